"""Every path photofind writes to, in one place.

The data directory is the platform's user data dir (via ``platformdirs``) unless the
``PHOTOFIND_DATA_DIR`` environment variable names another one; tests and benchmarks use that
to work in temporary directories. Nothing here touches the user's photos.

The log directory (``Paths.logs_dir``, see ``photofind/logs.py``) is ``PHOTOFIND_LOG_DIR`` if
set (the test suite sets it), else the platform's user log dir, never inside the data dir: a
search only reads the library, and leaves every file of the data dir as it was. The platform's
user log dir is (``~/.local/state/photofind/log`` on Linux,
``%LOCALAPPDATA%\\photofind\\Logs`` on Windows, ``~/Library/Logs/photofind`` on macOS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "photofind"
ENV_DATA_DIR = "PHOTOFIND_DATA_DIR"
ENV_LOG_DIR = "PHOTOFIND_LOG_DIR"
LOG_FILE_NAME = "photofind.log"


@dataclass(frozen=True)
class Paths:
    """The locations of photofind's own files below one data directory."""

    data_dir: Path
    #: Where the log file goes; None: ``default_log_dir()`` (see the module docstring).
    log_dir: Path | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "library.sqlite3"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def index_dir(self) -> Path:
        """One HNSW file per model lives here (derived data, rebuilt from the DB)."""
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        """Converted ONNX models (derived from packaged weights, safe to delete)."""
        return self.data_dir / "models"

    @property
    def thumbnails_dir(self) -> Path:
        return self.data_dir / "thumbnails"

    @property
    def logs_dir(self) -> Path:
        return self.log_dir if self.log_dir is not None else default_log_dir()

    @property
    def log_file(self) -> Path:
        """The current log file (rotated ones are ``photofind.log.1`` ... next to it)."""
        return self.logs_dir / LOG_FILE_NAME

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "library.lock"

    def ensure(self) -> "Paths":
        # Not logs_dir: photofind/logs.py creates it, and an unwritable one must not stop anything.
        for d in (self.data_dir, self.backups_dir, self.index_dir, self.models_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self


def default_data_dir() -> Path:
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_log_dir() -> Path:
    """``PHOTOFIND_LOG_DIR``, else the platform's user log dir."""
    override = os.environ.get(ENV_LOG_DIR)
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def get_paths(data_dir: str | os.PathLike[str] | None = None) -> Paths:
    """Paths below ``data_dir`` (or the default data dir); directories are not created here."""
    return Paths(
        Path(data_dir).expanduser().resolve() if data_dir else default_data_dir(),
        log_dir=default_log_dir(),
    )

"""Every path photofind writes to, in one place.

The data directory is the platform's user data dir (via ``platformdirs``) unless the
``PHOTOFIND_DATA_DIR`` environment variable names another one; tests and benchmarks use that
to work in temporary directories. Nothing here touches the user's photos.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "photofind"
ENV_DATA_DIR = "PHOTOFIND_DATA_DIR"


@dataclass(frozen=True)
class Paths:
    """The locations of photofind's own files below one data directory."""

    data_dir: Path

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
        return self.data_dir / "logs"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "library.lock"

    def ensure(self) -> "Paths":
        for d in (self.data_dir, self.backups_dir, self.index_dir, self.models_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self


def default_data_dir() -> Path:
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def get_paths(data_dir: str | os.PathLike[str] | None = None) -> Paths:
    """Paths below ``data_dir`` (or the default data dir); directories are not created here."""
    return Paths(Path(data_dir).expanduser().resolve() if data_dir else default_data_dir())

"""House rules a machine can check: core, store and CLI never import Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    """The import-linter contracts in pyproject.toml (Qt-free core, gui -> core -> store)."""
    proc = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_core_and_cli_import_with_qt_blocked() -> None:
    """Importing everything headless works even where PySide6 cannot be imported at all."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'shiboken6'):\n"
        "            raise ImportError('Qt is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import photofind.cli, photofind.core.library, photofind.core.watcher, photofind.core.images.thumbnails\n"
        "assert not any(m.startswith('PySide6') for m in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_cli_default_model_is_the_registry_default() -> None:
    """cli.py names the default without importing the registry (fast --version/--help)."""
    from photofind import cli
    from photofind.core.models.registry import DEFAULT_MODEL

    assert cli.DEFAULT_MODEL == DEFAULT_MODEL


def test_version_and_help_do_not_import_the_heavy_stack() -> None:
    code = (
        "import sys, photofind.__main__ as m\n"
        "try:\n    m.main(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = [n for n in ('numpy', 'sqlalchemy', 'onnxruntime', 'PIL', 'PySide6') if n in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

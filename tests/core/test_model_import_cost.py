"""Converting the default model must never cost the app's window: ``onnx`` (over a second of
GIL-holding import, see ``models/lazy_import.py``) is imported only where a conversion runs, and
the app converts in a child process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_resolving_a_converted_model_does_not_import_onnx(tmp_path: Path) -> None:
    models = tmp_path / "models"
    out = run(f"""
        import sys
        from photofind.core.models.registry import resolve_model
        info = resolve_model(None, {str(models)!r})   # converts (first use)
        print(info.onnx_path.is_file())
    """)
    assert out == "True"
    out = run(f"""
        import sys
        from photofind.core.models.registry import resolve_model
        info = resolve_model(None, {str(models)!r})   # already converted
        print(info.onnx_path.is_file(), "onnx.helper" in sys.modules, "ml_dtypes" in sys.modules)
    """)
    assert out == "True False False"


def test_the_app_converts_in_a_child_process(tmp_path: Path) -> None:
    models = tmp_path / "models"
    out = run(f"""
        import sys
        from photofind.core.models.registry import resolve_model
        info = resolve_model(None, {str(models)!r}, convert_in_child=True)
        print(info.onnx_path.is_file(), "onnx.helper" in sys.modules, "ml_dtypes" in sys.modules)
    """)
    assert out == "True False False"

"""The JSON files that describe models: reading them, and the preprocessing spec inside them.

User models are listed in ``models_dir/registry.json`` (``user_models.py``) and a packaged app's
models in its ``manifest.json`` (``bundle.py``). Both map a model name to an entry that holds the
spec as written by ``spec_to_json``; a file that cannot be read is treated as empty, so a broken
file costs the models it lists, never the app.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from photofind.core.models.spec import PreprocessSpec

logger = logging.getLogger(__name__)


def read_model_list(path: Path, what: str) -> dict[str, dict]:
    """Name -> entry from the JSON file ``path``; {} when it is missing or unreadable (logged
    as "ignoring unreadable ``what`` ...")."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable %s %s: %s", what, path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def spec_to_json(spec: PreprocessSpec) -> dict[str, Any]:
    """The spec as a JSON-ready dict (what ``spec_from_json`` reads back)."""
    return dataclasses.asdict(spec)


def spec_from_json(d: dict) -> PreprocessSpec:
    """A spec from its stored JSON; a missing ``channel_order`` or ``layout`` means RGB, NCHW."""
    return PreprocessSpec(
        size=int(d["size"]),
        resize=d["resize"],
        mean=tuple(float(x) for x in d["mean"]),  # type: ignore[arg-type]
        std=tuple(float(x) for x in d["std"]),  # type: ignore[arg-type]
        channel_order=d.get("channel_order", "RGB"),
        layout=d.get("layout", "NCHW"),
    )

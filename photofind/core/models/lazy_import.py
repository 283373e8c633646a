"""Import a module on first use (``importlib.util.LazyLoader``).

``onnx`` is needed only to convert a model, once per machine, yet importing it costs over a
second of C code that holds the GIL (its ``ml_dtypes`` dependency registers numpy ufunc loops
at import): done in a worker thread of the app, that froze the window at every start, even with
the model long converted (bench/gui_stall.py; py-spy with --gil showed ``PyInit__ml_dtypes_ext``).
The converters name ``onnx`` through this, so importing them is free and ``onnx`` loads only
when a conversion runs.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_import(name: str) -> ModuleType:
    """``name`` as a module that is executed on its first attribute access."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module

"""Models: the preprocessing spec, the registry of built-in and user models, and converters.

Import from the submodules (``registry``, ``spec``, ...); this package keeps its import cheap.
"""

from photofind.core.models.spec import ModelInfo, PreprocessSpec

__all__ = ["ModelInfo", "PreprocessSpec"]

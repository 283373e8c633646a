"""Building the installable app: ``python -m photofind.packaging``.

The steps (``build.py``): a separate build venv with the CPU onnxruntime (or the GPU one with
``--cuda``; never both in one environment), the default model converted at build time
(``models.py``), PyInstaller with ``build.spec`` (a one-folder app), and on Linux a ``.deb`` and a
``.tar.gz`` of that folder (``linux.py``).

This package is build tooling: the app never imports it, and apart from ``models.py`` (which runs
inside the build venv) it uses the standard library only, so any Python 3.11+ can drive a build.
"""

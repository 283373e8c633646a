"""PyInstaller runtime hook: the packaged app never writes inside its install folder.

Alembic imports the migration scripts from ``.py`` files in the bundle; without this, Python
would try to leave ``__pycache__`` next to them (in ``/opt/photofind`` when installed).
"""

import sys

sys.dont_write_bytecode = True

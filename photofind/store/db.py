"""Opening the library database: engine settings, migrations, and a backup before each migration.

SQLite runs in WAL mode (readers never block the single writer) with foreign keys on. The
schema belongs to the Alembic migrations shipped in this package; they are applied at start-up
(a new database is made from ``schema.py`` and stamped, see ``create_schema``), and an existing
database is copied to ``backups/`` first, so a failed or unwanted migration
never costs the user's library.

When the database can't be written (a read-only data dir, a read-only or full disk, a file
owned by someone else) but is up to date, it is opened read-only instead, so search and
browsing keep working; ``is_read_only(engine)`` tells callers not to try writing. SQLite can
only read a WAL database read-only if the ``-shm`` file exists or can be created; where even
that is impossible the file is opened ``immutable`` (nobody can be writing it then anyway).

A damaged database is never replaced or repaired silently: ``DatabaseError`` names the file
and the most recent backup, and the user decides.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: The newest schema revision, Alembic's head (a test checks they agree). Knowing it without
#: Alembic lets an up-to-date library open without importing Alembic at all: its import is about
#: a quarter of a second of the app's cold start; it is loaded only to migrate.
HEAD_REVISION = "0005"
BUSY_TIMEOUT_MS = 15_000
BACKUPS_KEPT = 3


class DatabaseError(RuntimeError):
    """The library database cannot be opened or migrated; the message says what to do."""


_READ_ONLY_MODES = ("ro", "immutable")
PAGE_SIZE = 16384


def create_library_engine(db_path: Path, read_only: str | None = None) -> Engine:
    """An engine for ``db_path`` with WAL, foreign keys and a busy timeout on every connection.

    ``read_only`` is None (read-write), ``"ro"`` (SQLite ``mode=ro``) or ``"immutable"``.
    """
    connect_args: dict[str, object] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    if read_only is None:
        url = f"sqlite:///{db_path}"
    else:
        query = "mode=ro" if read_only == "ro" else "mode=ro&immutable=1"
        url = f"sqlite:///file:{quote(str(db_path))}?{query}&uri=true"

    engine = create_engine(url, connect_args=connect_args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        if read_only is None:
            # Applies only when the file is created (WAL fixes it afterwards): 16 KB pages hold six
            # 2.5 KB float16 vectors, where 4 KB pages held one, wasting 1.5 KB per photo.
            cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


def is_read_only(engine: Engine) -> bool:
    """True for an engine ``open_database`` had to open read-only."""
    return "mode=ro" in str(engine.url)


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest schema revision this version of photofind knows."""
    return HEAD_REVISION


def alembic_head() -> str:
    """The head revision as Alembic reads it from the migration scripts (imports Alembic)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database (Alembic's ``alembic_version`` table), or
    None for a database without a schema yet. Read with plain SQL, as Alembic stores it."""
    with engine.connect() as conn:
        has_table = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).first()
        if has_table is None:
            return None
        rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()
    if len(rows) > 1:
        raise DatabaseError(f"the database records {len(rows)} schema revisions at once")
    return str(rows[0][0]) if rows else None


def backup_database(db_path: Path, backups_dir: Path, label: str) -> Path:
    """Copy the live database (consistently, through SQLite's backup API) into ``backups_dir``."""
    backups_dir.mkdir(parents=True, exist_ok=True)
    target = backups_dir / f"library-{label}-{time.strftime('%Y%m%d-%H%M%S')}.sqlite3"
    src = sqlite3.connect(str(db_path))
    try:
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    _prune_backups(backups_dir)
    logger.info("Backed up the library database to %s", target)
    return target


def _prune_backups(backups_dir: Path) -> None:
    backups = sorted(backups_dir.glob("library-*.sqlite3"), key=lambda p: p.stat().st_mtime)
    for old in backups[:-BACKUPS_KEPT]:
        old.unlink(missing_ok=True)


def latest_backup(backups_dir: Path) -> Path | None:
    backups = sorted(backups_dir.glob("library-*.sqlite3"), key=lambda p: p.stat().st_mtime)
    return backups[-1] if backups else None


def check_integrity(engine: Engine) -> str:
    """``PRAGMA integrity_check``: ``"ok"`` or SQLite's description of the damage."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("PRAGMA integrity_check").fetchall()
    return "; ".join(str(r[0]) for r in rows)


def migrate(engine: Engine, db_path: Path, backups_dir: Path) -> str:
    """Bring the schema to the newest revision; back the DB up first if it has data to lose.

    Returns the revision now in force. Raises ``DatabaseError`` if the database is damaged or
    newer than this version of photofind understands.
    """
    head = head_revision()
    try:
        current = current_revision(engine)
    except Exception as exc:  # sqlite3.DatabaseError: file is not a database, etc.
        if _is_write_failure(exc):
            raise  # open_database falls back to read-only
        raise DatabaseError(_damaged_message(db_path, backups_dir, exc)) from exc
    if current == head:
        return head
    if current is None:
        _drop_incomplete_first_schema(engine)
        if _is_empty(engine):
            create_schema(engine, head)
            logger.info("New library database at schema %s", head)
            return head
    from alembic import command
    from alembic.script import ScriptDirectory

    known = {rev.revision for rev in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
    if current is not None and current not in known:
        raise DatabaseError(
            f"The library at {db_path} was written by a newer photofind (schema {current}); "
            "update photofind to open it."
        )
    if current is not None:
        backup_database(db_path, backups_dir, f"before-{head}")
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    logger.info("Library schema migrated from %s to %s", current or "empty", head)
    return head


def create_schema(engine: Engine, revision: str = HEAD_REVISION) -> None:
    """Make a new library's tables straight from ``schema.metadata`` and record the head
    revision, in one transaction, as Alembic's cookbook suggests for a fresh database
    ("create_all, then stamp head"): the first start then neither imports Alembic nor replays
    every migration (a test checks the result equals the migrations' own, table by table)."""
    from photofind.store.schema import metadata

    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.exec_driver_sql(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
        conn.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES (?)", (revision,))


def _is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT COUNT(*) FROM sqlite_master").scalar() == 0


def _drop_incomplete_first_schema(engine: Engine) -> None:
    """Tables without a schema revision are what a process killed during the very first
    migration leaves (SQLite's DDL is not in one transaction with Alembic's stamp). photofind
    writes no row before the migration completes, so such tables are empty: they are dropped and
    made again. A table that holds rows is never dropped (then the database is reported)."""
    with engine.begin() as conn:
        tables = [r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )]
        if not tables:
            return
        if any(conn.exec_driver_sql(f'SELECT 1 FROM "{name}" LIMIT 1').first() for name in tables):
            return  # not ours to drop: migrate() fails and the user is told
        logger.warning("An interrupted first start left an incomplete library schema (%s); making it again", ", ".join(tables))
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        for name in tables:
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')


def _damaged_message(db_path: Path, backups_dir: Path, exc: Exception | str) -> str:
    return damaged_message(db_path, backups_dir, exc if isinstance(exc, str) else _detail(exc))


def damaged_message(db_path: Path, backups_dir: Path, detail: str) -> str:
    """What to tell the user about a damaged database: the file, the cause, the last backup.

    photofind never replaces or repairs the file itself: the user may want to copy it away
    first, or try ``sqlite3 .recover``.
    """
    try:
        backup = latest_backup(backups_dir)
    except OSError:
        backup = None
    if backup:
        hint = (
            f" The most recent backup is {backup}: to use it, quit photofind and copy it over "
            f"{db_path} (photos indexed since then are indexed again)."
        )
    else:
        hint = (
            " No backup exists yet: move the damaged file away and run photofind index to "
            "build the library again."
        )
    return f"The library database {db_path} is damaged and cannot be read ({detail}).{hint}"


def open_database(db_path: Path, backups_dir: Path) -> Engine:
    """Create the engine, check the file is a readable SQLite database, and migrate it.

    Falls back to a read-only engine (see module docstring) when the database exists, is up to
    date and can't be written.
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    problem = damage_in_header(db_path)
    if problem:
        raise DatabaseError(_damaged_message(db_path, backups_dir, problem))
    engine = create_library_engine(db_path)
    try:
        migrate(engine, db_path, backups_dir)
    except DatabaseError:
        engine.dispose()
        raise
    except Exception as exc:
        engine.dispose()
        if db_path.is_file() and _is_write_failure(exc):
            logger.warning(
                "The library database %s can't be written (%s); opening it read-only", db_path, _detail(exc)
            )
            return _open_read_only(db_path, backups_dir, exc)
        raise DatabaseError(_damaged_message(db_path, backups_dir, exc)) from exc
    return engine


_SQLITE_MAGIC = b"SQLite format 3\x00"


def damage_in_header(db_path: Path) -> str | None:
    """Cheap damage check of the file header: wrong magic, or shorter than it says it is.

    SQLite itself only notices a truncated file when a query reaches a missing page, possibly
    deep into an index run. The header records the page size and (when its "version valid
    for" field matches the change counter) the page count as of the last commit to the main
    file; the file can never legitimately be shorter than that, since a WAL only appends pages
    beyond it.
    """
    try:
        with open(db_path, "rb") as f:
            header = f.read(100)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    if size == 0:
        return None  # a new, empty database (SQLite writes the header on first use)
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        return "file is not a database"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    change_counter = header[24:28]
    pages = int.from_bytes(header[28:32], "big")
    if header[92:96] == change_counter and pages and size < pages * page_size:
        return f"the file is truncated: {size} bytes of {pages * page_size}"
    return None


def _detail(exc: BaseException) -> str:
    """SQLite's own message, without SQLAlchemy's statement and help-link decoration."""
    return str(getattr(exc, "orig", None) or exc)


def _is_write_failure(exc: BaseException) -> bool:
    """Did opening fail for want of write access (not because the file is damaged)?"""
    text = str(exc).lower()
    return any(
        phrase in text
        for phrase in ("readonly database", "read-only", "unable to open database file",
                       "disk is full", "disk i/o error", "permission denied")
    )


def _open_read_only(db_path: Path, backups_dir: Path, cause: Exception) -> Engine:
    last: Exception = cause
    for mode in _READ_ONLY_MODES:
        engine = create_library_engine(db_path, read_only=mode)
        try:
            current = current_revision(engine)
        except Exception as exc:  # noqa: BLE001 - try the next mode
            engine.dispose()
            last = exc
            continue
        if current != head_revision():
            engine.dispose()
            raise DatabaseError(
                f"The library database {db_path} needs upgrading, but it can't be written "
                f"({_detail(cause)}). Make its folder writable and start photofind again."
            )
        return engine
    raise DatabaseError(_damaged_message(db_path, backups_dir, last)) from last

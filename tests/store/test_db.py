"""Opening, migrating and protecting the library database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import photofind.store.db as db_module
from photofind.store.db import (
    DatabaseError,
    check_integrity,
    current_revision,
    head_revision,
    latest_backup,
    open_database,
)


def test_head_revision_is_alembics_head() -> None:
    """HEAD_REVISION lets an up-to-date library open without Alembic; it must be the scripts' head
    (a new migration updates both)."""
    assert head_revision() == db_module.alembic_head()


def test_an_up_to_date_library_opens_without_importing_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    open_database(tmp_path / "lib.db", tmp_path / "backups").dispose()
    code = (
        "import sys; from pathlib import Path; from photofind.store.db import open_database, current_revision;"
        "e = open_database(Path(sys.argv[1]), Path(sys.argv[2])); print(current_revision(e));"
        "print('alembic' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "lib.db"), str(tmp_path / "backups")],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert out == [head_revision(), "False"]


def test_fresh_database_is_migrated_to_head_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "lib.db", tmp_path / "backups")
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # six float16 vectors per page instead of one 4 KB page each
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 16384
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"folders", "photos", "embeddings", "meta", "alembic_version"} <= tables
    assert check_integrity(engine) == "ok"
    # A fresh database has nothing to lose: no backup is taken.
    assert latest_backup(tmp_path / "backups") is None


def test_reopening_at_head_takes_no_backup(tmp_path: Path) -> None:
    open_database(tmp_path / "lib.db", tmp_path / "backups").dispose()
    open_database(tmp_path / "lib.db", tmp_path / "backups").dispose()
    assert latest_backup(tmp_path / "backups") is None


def test_existing_database_is_backed_up_before_a_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "lib.db"
    open_database(db, tmp_path / "backups").dispose()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO meta(key, value) VALUES ('marker', 'kept')")
    # A newer photofind whose head is one revision past what this file has.
    upgrades: list[str] = []
    monkeypatch.setattr(db_module, "head_revision", lambda: "0002_next")
    import alembic.command

    monkeypatch.setattr(alembic.command, "upgrade", lambda cfg, rev: upgrades.append(rev))
    open_database(db, tmp_path / "backups").dispose()
    assert upgrades == ["head"]
    backup = latest_backup(tmp_path / "backups")
    assert backup is not None and "before-0002_next" in backup.name
    with sqlite3.connect(backup) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='marker'").fetchone() == ("kept",)


def test_damaged_database_is_reported_not_replaced(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    db.write_bytes(b"this is not a database" * 100)
    before = db.read_bytes()
    with pytest.raises(DatabaseError) as info:
        open_database(db, tmp_path / "backups")
    assert str(db) in str(info.value)
    assert db.read_bytes() == before


def test_database_from_a_newer_photofind_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    open_database(db, tmp_path / "backups").dispose()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(DatabaseError, match="newer photofind"):
        open_database(db, tmp_path / "backups")


def test_a_first_start_killed_mid_migration_is_made_again_but_tables_with_rows_are_never_dropped(tmp_path: Path) -> None:
    import sqlite3

    from photofind.store.db import DatabaseError, current_revision, head_revision, open_database

    partial = tmp_path / "partial.db"  # tables, no schema revision: a kill during the first migration
    conn = sqlite3.connect(partial)
    conn.execute("create table folders (id integer primary key, path text)")
    conn.commit()
    conn.close()
    engine = open_database(partial, tmp_path / "backups")
    assert current_revision(engine) == head_revision()
    engine.dispose()

    foreign = tmp_path / "foreign.db"  # a table with rows is not ours to drop
    conn = sqlite3.connect(foreign)
    conn.execute("create table folders (id integer primary key, path text)")
    conn.execute("insert into folders values (1, 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError):
        open_database(foreign, tmp_path / "backups")
    conn = sqlite3.connect(foreign)
    assert conn.execute("select count(*) from folders").fetchone() == (1,)
    conn.close()


def _schema_of(engine) -> dict:  # type: ignore[no-untyped-def]
    """Every table's columns, keys and indexes as SQLAlchemy's inspector reads them back."""
    from sqlalchemy import inspect

    insp = inspect(engine)
    out = {}
    for table in sorted(insp.get_table_names()):
        out[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in insp.get_columns(table)
            ),
            "pk": sorted(insp.get_pk_constraint(table)["constrained_columns"]),
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]), str(f.get("options")))
                for f in insp.get_foreign_keys(table)
            ),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table)),
            "uniques": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
        }
    return out


def test_a_new_library_gets_the_schema_the_migrations_make(tmp_path: Path) -> None:
    """A new database is made from ``schema.py`` and stamped at the head (no Alembic at a first
    start); it must be the same, table by table, as replaying every migration, and Alembic must
    find nothing to change in either."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from photofind.store.db import create_library_engine
    from photofind.store.schema import metadata

    created = open_database(tmp_path / "created.db", tmp_path / "backups")
    migrated = create_library_engine(tmp_path / "migrated.db")
    cfg = db_module._alembic_config()
    with migrated.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert current_revision(created) == current_revision(migrated) == head_revision()
    assert _schema_of(created) == _schema_of(migrated)
    for engine in (created, migrated):
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        engine.dispose()


def test_the_browse_order_reads_an_index_not_a_sort_of_every_photo(tmp_path: Path) -> None:
    """``recent_photos`` (the browse grid's pages, newest file first) walks
    ix_photos_status_mtime (migration 0005) and needs no sort: at 1M photos a sort of the whole
    table took 1.5-2.9 s for the first page."""
    from sqlalchemy import event

    from photofind.store.repository import Repository

    engine = open_database(tmp_path / "lib.db", tmp_path / "backups")
    repo = Repository(engine)
    seen: list[tuple[str, object]] = []

    def remember(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        if "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    repo.recent_photos(100)
    event.remove(engine, "before_cursor_execute", remember)
    assert len(seen) == 1
    statement, parameters = seen[0]
    with engine.connect() as conn:
        plan = " | ".join(
            str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
    assert "ix_photos_status_mtime" in plan, plan
    assert "TEMP B-TREE" not in plan, plan

"""Alembic environment: always run in-process on a connection handed in by ``store.db``."""

from __future__ import annotations

from alembic import context

from photofind.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - photofind never runs Alembic from its own CLI
    raise RuntimeError("photofind migrations run through photofind.store.db.migrate()")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

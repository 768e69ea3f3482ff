"""Alembic environment: runs on the connection gatepass hands it (see storage/db.py)."""

from __future__ import annotations

from alembic import context

from gatepass.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - gatepass always passes one
    raise RuntimeError("run migrations through `gatepass db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

"""Going down a migration in a test, on a connection the test already holds (so that it can
change rows in the same transaction first)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection

from gatepass.storage import db


def downgrade(conn: Connection, revision: str) -> None:
    """For ``AsyncConnection.run_sync(downgrade, revision)``."""
    cfg = db.alembic_config()
    cfg.attributes["connection"] = conn
    command.downgrade(cfg, revision)

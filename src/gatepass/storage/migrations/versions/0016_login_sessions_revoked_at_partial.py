"""login_sessions: ``revoked_at`` indexed only where it is set

The index held an entry for every login, almost all of them NULL. The purge, its one user,
asks for ``revoked_at <= cutoff``, which only a revoked login matches. The hot statements
look a login up by key with ``revoked_at IS NULL`` beside the key; on a table PostgreSQL had
no statistics for (a new database; autovacuum off), the generic plan of the rotation
statement took this index for that condition instead of the primary key and read every live
login on every rotation (256 logins, 256 rows removed by filter per rotation). A partial index
``WHERE revoked_at IS NOT NULL`` cannot serve ``revoked_at IS NULL``, and holds only revoked
logins.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 08:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_SET = sa.text("revoked_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_login_sessions_revoked_at")
        batch_op.create_index(
            "ix_login_sessions_revoked_at",
            ["revoked_at"],
            unique=False,
            postgresql_where=_SET,
            sqlite_where=_SET,
        )


def downgrade() -> None:
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_login_sessions_revoked_at")
        batch_op.create_index("ix_login_sessions_revoked_at", ["revoked_at"], unique=False)

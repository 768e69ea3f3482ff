"""login_throttle: expires_at (purge), keys of 255 characters (account at address)

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01 23:30:00
"""

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.Float(), nullable=False, server_default="0"))
        batch_op.alter_column(
            "key", existing_type=sa.String(length=200), type_=sa.String(length=255)
        )
    # Rows written before this revision did not record their window: they are kept a day past
    # their last event, longer than any window they can have been counted in.
    op.execute(
        "UPDATE login_throttle SET expires_at = 86400 + CASE WHEN locked_until > window_start "
        "THEN locked_until ELSE window_start END"
    )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.alter_column("expires_at", server_default=None)
        batch_op.create_index(
            batch_op.f("ix_login_throttle_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM login_throttle WHERE length(key) > 200")
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_expires_at"))
        batch_op.alter_column(
            "key", existing_type=sa.String(length=255), type_=sa.String(length=200)
        )
        batch_op.drop_column("expires_at")

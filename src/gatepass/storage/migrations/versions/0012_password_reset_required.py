"""password reset required: an administrator forced a password reset (admin console); an
index for one account's events, newest first (the account's activity, the admin event filter)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 03:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_reset_required', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.create_index('ix_security_events_user_id_id', ['user_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.drop_index('ix_security_events_user_id_id')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('password_reset_required')

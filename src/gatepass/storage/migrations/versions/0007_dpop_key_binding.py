"""DPoP (RFC 9449): key thumbprints of bound opaque tokens and logins; per-client DPoP

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_bound_access_tokens', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('jkt', sa.String(length=64), nullable=True))

    with op.batch_alter_table('opaque_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('jkt', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('opaque_tokens', schema=None) as batch_op:
        batch_op.drop_column('jkt')

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_column('jkt')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('dpop_bound_access_tokens')

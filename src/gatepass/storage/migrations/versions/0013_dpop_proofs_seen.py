"""DPoP replay cache in the database, for several workers without Redis

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 03:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dpop_proofs_seen',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('dpop_proofs_seen', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dpop_proofs_seen_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dpop_proofs_seen', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dpop_proofs_seen_expires_at'))
    op.drop_table('dpop_proofs_seen')

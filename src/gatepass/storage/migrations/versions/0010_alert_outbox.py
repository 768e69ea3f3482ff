"""alert outbox and known devices

Revision ID: 0010
Revises: 0004
Create Date: 2026-12-01 23:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('name', sa.String(length=200), nullable=True))

    op.create_table('alert_outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=40), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=2048), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('due_at', sa.Float(), nullable=True),
    sa.Column('claim', sa.String(length=32), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('done_at', sa.Float(), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_outbox_done_at'), ['done_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_outbox_due_at'), ['due_at'], unique=False)

    op.create_table('known_devices',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('first_seen', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'device')
    )


def downgrade() -> None:
    op.drop_table('known_devices')
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_outbox_due_at'))
        batch_op.drop_index(batch_op.f('ix_alert_outbox_done_at'))

    op.drop_table('alert_outbox')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('name')
        batch_op.drop_column('email')

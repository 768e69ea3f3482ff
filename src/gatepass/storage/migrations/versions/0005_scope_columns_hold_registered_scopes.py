"""scope columns hold every scope registration allows

login_sessions.scope and opaque_tokens.scope were VARCHAR(1000), while a client may be
registered with up to 2000 characters of scopes (oauth/scopes.MAX_SCOPE_CHARS): a login asking
for them all failed on PostgreSQL. TEXT has no length limit on either database.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:30:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TABLES = ('login_sessions', 'opaque_tokens')


def upgrade() -> None:
    # SQLite never enforces a VARCHAR length, and rebuilding login_sessions there (batch mode)
    # would drop the table under foreign_keys=ON, cascading to every refresh token: only
    # PostgreSQL's columns change.
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TABLES:
        op.alter_column(
            table,
            'scope',
            existing_type=sa.String(length=1000),
            type_=sa.Text(),
            existing_nullable=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TABLES:
        op.alter_column(
            table,
            'scope',
            existing_type=sa.Text(),
            type_=sa.String(length=1000),
            existing_nullable=False,
        )

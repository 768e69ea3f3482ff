"""browser and app login: redirect URIs, SSO sessions, authorization codes, consents, ID-token keys

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 02:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redirect_uris', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('post_logout_redirect_uris', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('first_party', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sa.String(length=16), server_default='access', nullable=False))

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='refresh', nullable=False))
        batch_op.add_column(sa.Column('cookie_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('auth_time', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('amr', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('parent_sid', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_login_sessions_cookie_digest'), ['cookie_digest'])
        batch_op.create_index(batch_op.f('ix_login_sessions_parent_sid'), ['parent_sid'], unique=False)

    op.create_table('authorization_codes',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('sso_sid', sa.String(length=64), nullable=False),
    sa.Column('redirect_uri', sa.String(length=2048), nullable=False),
    sa.Column('code_challenge', sa.String(length=128), nullable=False),
    sa.Column('nonce', sa.String(length=512), nullable=True),
    sa.Column('scope', sa.String(length=1000).with_variant(sa.Text(), 'postgresql'), nullable=False),
    sa.Column('auth_time', sa.Float(), nullable=False),
    sa.Column('amr', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.Column('used_at', sa.Float(), nullable=True),
    sa.Column('login_sid', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('digest')
    )
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_authorization_codes_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_authorization_codes_user_id'), ['user_id'], unique=False)

    op.create_table('consents',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=1000).with_variant(sa.Text(), 'postgresql'), nullable=False),
    sa.Column('granted_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'client_id')
    )


def downgrade() -> None:
    op.drop_table('consents')
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_authorization_codes_user_id'))
        batch_op.drop_index(batch_op.f('ix_authorization_codes_expires_at'))
    op.drop_table('authorization_codes')

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_parent_sid'))
        batch_op.drop_constraint(batch_op.f('uq_login_sessions_cookie_digest'), type_='unique')
        batch_op.drop_column('parent_sid')
        batch_op.drop_column('amr')
        batch_op.drop_column('auth_time')
        batch_op.drop_column('cookie_digest')
        batch_op.drop_column('kind')

    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_column('purpose')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('first_party')
        batch_op.drop_column('post_logout_redirect_uris')
        batch_op.drop_column('redirect_uris')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_verified')

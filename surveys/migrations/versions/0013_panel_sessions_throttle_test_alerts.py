"""panel_session and login_throttle (sign-in state shared by every worker); alert.test (alerts
raised by simulator conversations)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 13:30:00
"""
import sqlalchemy as sa
from alembic import op

import surveys.models

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'panel_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ended_at', surveys.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index(op.f('ix_panel_session_user_id'), 'panel_session', ['user_id'], unique=False)
    op.create_table(
        'login_throttle',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('window_start', surveys.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    with op.batch_alter_table('alert') as batch:
        batch.add_column(sa.Column('test', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('alert') as batch:
        batch.drop_column('test')
    op.drop_table('login_throttle')
    op.drop_index(op.f('ix_panel_session_user_id'), table_name='panel_session')
    op.drop_table('panel_session')

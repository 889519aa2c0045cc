"""A retried ticket creation never makes two tickets: the callers' Idempotency-Keys
(bot.helpdesk.idempotency)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 23:00:00
"""
import sqlalchemy as sa
from alembic import op

import surveys.models

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ticket_idempotency_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('caller', sa.String(length=160), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('created_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['help_request.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('caller', 'key')
    )
    with op.batch_alter_table('ticket_idempotency_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_idempotency_key_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ticket_idempotency_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_idempotency_key_created_at'))
    op.drop_table('ticket_idempotency_key')

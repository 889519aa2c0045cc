"""answer coding (open answers coded into categories, review and audit)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:10:00
"""
import sqlalchemy as sa
from alembic import op

import surveys.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('answer_coding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('answer_id', sa.Integer(), nullable=False),
    sa.Column('codebook', sa.String(length=40), nullable=False),
    sa.Column('codes', sa.JSON(), nullable=False),
    sa.Column('predicted_codes', sa.JSON(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('coder_version', sa.String(length=120), nullable=False),
    sa.Column('codebook_version', sa.String(length=60), nullable=False),
    sa.Column('model_hash', sa.String(length=64), nullable=False),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('coded_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by', sa.String(length=120), nullable=True),
    sa.Column('reviewed_at', surveys.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['answer_id'], ['answer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('answer_id')
    )
    with op.batch_alter_table('answer_coding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_coding_codebook'), ['codebook'], unique=False)
        batch_op.create_index(batch_op.f('ix_answer_coding_needs_review'), ['needs_review'], unique=False)
        batch_op.create_index(batch_op.f('ix_answer_coding_status'), ['status'], unique=False)

    op.create_table('answer_coding_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coding_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.Column('coder_version', sa.String(length=120), nullable=True),
    sa.Column('created_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['coding_id'], ['answer_coding.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('answer_coding_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_coding_event_coding_id'), ['coding_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('answer_coding_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_coding_event_coding_id'))
    op.drop_table('answer_coding_event')
    with op.batch_alter_table('answer_coding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_coding_status'))
        batch_op.drop_index(batch_op.f('ix_answer_coding_needs_review'))
        batch_op.drop_index(batch_op.f('ix_answer_coding_codebook'))
    op.drop_table('answer_coding')

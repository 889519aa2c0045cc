"""index answer.updated_at: the coder finds changed answers by it (analysis.coding.deferred)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:30:00
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_updated_at'), ['updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_updated_at'))

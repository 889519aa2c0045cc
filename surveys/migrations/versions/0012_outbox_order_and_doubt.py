"""outbox: pieces of a split message in order (after_id), sends that may have gone out (in_doubt)

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-10 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('in_doubt', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('after_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_outbox_after_id_outbox', 'outbox', ['after_id'], ['id'])
    # A row left mid-send by the previous version is in doubt: reconciled before it is sent again.
    op.execute("UPDATE outbox SET in_doubt = true WHERE status = 'sending'")


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_constraint('fk_outbox_after_id_outbox', type_='foreignkey')
        batch.drop_column('after_id')
        batch.drop_column('in_doubt')

"""contact.forgotten_at: personal data erased (BORRAR MIS DATOS, m360 contacts forget, retention)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:50:00
"""
import sqlalchemy as sa
from alembic import op

import surveys.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('forgotten_at', surveys.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_column('forgotten_at')

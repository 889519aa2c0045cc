"""consent_record: every consent given or declined, with the notice's version and text

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:50:00
"""
import sqlalchemy as sa
from alembic import op

import surveys.models

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'consent_record',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('given', sa.Boolean(), nullable=False),
        sa.Column('version', sa.String(length=40), nullable=True),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('source', sa.String(length=60), nullable=False),
        sa.Column('created_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['contact_id'], ['contact.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_consent_record_contact_id'), 'consent_record', ['contact_id'], unique=False)
    # What each contact holds now is the first record of its history.
    op.execute("INSERT INTO consent_record (contact_id, given, version, text, source, created_at) "
               "SELECT id, consent, consent_version, consent_text, channel, consent_at FROM contact "
               "WHERE consent IS NOT NULL AND consent_at IS NOT NULL")


def downgrade() -> None:
    op.drop_index(op.f('ix_consent_record_contact_id'), table_name='consent_record')
    op.drop_table('consent_record')

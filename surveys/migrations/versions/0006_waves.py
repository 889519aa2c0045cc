"""waves (monthly waves — sample, invitations, reminders, schedules)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 04:15:31.849002
"""
import sqlalchemy as sa
from alembic import op

import surveys.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wave',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('questionnaire', sa.String(length=100), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('gobernaciones', sa.Integer(), nullable=True),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('frame', sa.JSON(), nullable=False),
    sa.Column('strata', sa.JSON(), nullable=False),
    sa.Column('reminder_days', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('launch_at', surveys.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closes_at', surveys.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('launched_at', surveys.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', surveys.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('schedule_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('wave', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wave_period'), ['period'], unique=False)
        batch_op.create_index(batch_op.f('ix_wave_status'), ['status'], unique=False)

    op.create_table('wave_schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('business_day', sa.Integer(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('last_period', sa.String(length=7), nullable=True),
    sa.Column('created_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('wave_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('entity_code', sa.String(length=5), nullable=False),
    sa.Column('region', sa.String(length=60), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('invited_at', surveys.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminders', sa.Integer(), nullable=False),
    sa.Column('reminder_id', sa.Integer(), nullable=True),
    sa.Column('reminded_at', surveys.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('waiting', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ),
    sa.ForeignKeyConstraint(['entity_code'], ['entity.code'], ),
    sa.ForeignKeyConstraint(['wave_id'], ['wave.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('wave_id', 'entity_code')
    )
    with op.batch_alter_table('wave_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wave_member_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_wave_member_entity_code'), ['entity_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_wave_member_wave_id'), ['wave_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('wave_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wave_member_wave_id'))
        batch_op.drop_index(batch_op.f('ix_wave_member_entity_code'))
        batch_op.drop_index(batch_op.f('ix_wave_member_contact_id'))

    op.drop_table('wave_member')
    op.drop_table('wave_schedule')
    with op.batch_alter_table('wave', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wave_status'))
        batch_op.drop_index(batch_op.f('ix_wave_period'))

    op.drop_table('wave')

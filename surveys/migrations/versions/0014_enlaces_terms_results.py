"""Closing the loop with the territories: enlaces and articuladores (staff, staff_entity), login-free
links to an entity's ficha (result_link), terms by request type and continuity, tickets on hold
for grupos de valor the DER has not validated, periodic follow-ups, the DER's approval of a wave's
results

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 13:05:54
"""
import sqlalchemy as sa
from alembic import op

import surveys.models

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=120), nullable=True),
    sa.Column('region', sa.String(length=60), nullable=True),
    sa.Column('username', sa.String(length=80), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_role'), ['role'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_username'), ['username'], unique=False)

    op.create_table('staff_entity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('entity_code', sa.String(length=5), nullable=False),
    sa.ForeignKeyConstraint(['entity_code'], ['entity.code'], ),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entity_code')
    )
    with op.batch_alter_table('staff_entity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_entity_staff_id'), ['staff_id'], unique=False)

    op.create_table('result_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('entity_code', sa.String(length=5), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('wave_id', sa.Integer(), nullable=True),
    sa.Column('created_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', surveys.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.Column('last_viewed_at', surveys.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], ),
    sa.ForeignKeyConstraint(['entity_code'], ['entity.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('result_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_result_link_entity_code'), ['entity_code'], unique=False)

    with op.batch_alter_table('entity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_kind', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('validation', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('validated_at', surveys.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('validated_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('registered_at', surveys.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_entity_validation'), ['validation'], unique=False)

    with op.batch_alter_table('help_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_type', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('continuity', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('staff_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('on_hold', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('followups', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_followup_at', surveys.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_help_request_staff_id'), ['staff_id'], unique=False)
        batch_op.create_foreign_key('fk_help_request_staff_id', 'staff', ['staff_id'], ['id'])

    with op.batch_alter_table('wave', schema=None) as batch_op:
        batch_op.add_column(sa.Column('results_approved_at', surveys.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('results_approved_by', sa.String(length=120), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('wave', schema=None) as batch_op:
        batch_op.drop_column('results_approved_by')
        batch_op.drop_column('results_approved_at')

    with op.batch_alter_table('help_request', schema=None) as batch_op:
        batch_op.drop_constraint('fk_help_request_staff_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_help_request_staff_id'))
        batch_op.drop_column('last_followup_at')
        batch_op.drop_column('followups')
        batch_op.drop_column('on_hold')
        batch_op.drop_column('staff_id')
        batch_op.drop_column('continuity')
        batch_op.drop_column('request_type')

    with op.batch_alter_table('entity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_validation'))
        batch_op.drop_column('registered_at')
        batch_op.drop_column('validated_by')
        batch_op.drop_column('validated_at')
        batch_op.drop_column('validation')
        batch_op.drop_column('group_kind')

    with op.batch_alter_table('result_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_result_link_entity_code'))

    op.drop_table('result_link')
    with op.batch_alter_table('staff_entity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_entity_staff_id'))

    op.drop_table('staff_entity')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_username'))
        batch_op.drop_index(batch_op.f('ix_staff_role'))
        batch_op.drop_index(batch_op.f('ix_staff_region'))

    op.drop_table('staff')

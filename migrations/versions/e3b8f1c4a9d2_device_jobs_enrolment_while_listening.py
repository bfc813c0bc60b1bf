"""device jobs: enrolment handed to the running listener (issue 12)

Revision ID: e3b8f1c4a9d2
Revises: d12a0e5f7b31
Create Date: 2026-12-01 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e3b8f1c4a9d2'
down_revision = 'd12a0e5f7b31'
branch_labels = None
depends_on = None

STATES = ("pending", "running", "done", "failed", "cancelled")


def upgrade():
    op.create_table('device_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=True),
    sa.Column('page', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('timeout', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    # OR, not IN: see b7c1d2e3f4a5.
    sa.CheckConstraint(" OR ".join(f"state = '{s}'" for s in STATES), name=op.f('ck_device_jobs_state')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_jobs_device_id_devices')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_device_jobs_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_jobs'))
    )
    with op.batch_alter_table('device_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_jobs_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_jobs_state'), ['state'], unique=False)


def downgrade():
    with op.batch_alter_table('device_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_device_jobs_device_id'))
    op.drop_table('device_jobs')

"""press ids of the listener journal, retired devices (issue 12)

Revision ID: d12a0e5f7b31
Revises: d4e5f6a7b8c9
Create Date: 2026-12-01 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd12a0e5f7b31'
down_revision = 'd4e5f6a7b8c9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('device_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('press_id', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_device_events_press_id'), ['press_id']
        )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
    with op.batch_alter_table('device_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_device_events_press_id'), type_='unique')
        batch_op.drop_column('press_id')

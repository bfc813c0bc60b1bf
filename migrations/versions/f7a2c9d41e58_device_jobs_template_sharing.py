"""device jobs: template copy and delete across a hall's readers (issue 12)

Revision ID: f7a2c9d41e58
Revises: f1a2b3c4d5e6
Create Date: 2026-12-01 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f7a2c9d41e58'
down_revision = "f1a2b3c4d5e6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('device_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_device_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('source_page', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_device_jobs_source_device_id_devices'),
            'devices',
            ['source_device_id'],
            ['id'],
        )


def downgrade():
    with op.batch_alter_table('device_jobs', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_device_jobs_source_device_id_devices'), type_='foreignkey'
        )
        batch_op.drop_column('source_page')
        batch_op.drop_column('source_device_id')

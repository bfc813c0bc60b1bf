"""staff photos: the counter's 亮牌 card and the person's page (issue 13)

Revision ID: a7f3c2d19e05
Revises: f7a2c9d4e1b6
Create Date: 2026-12-01 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7f3c2d19e05'
down_revision = "f7a2c9d4e1b6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_photos_staff_id_staff')),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_staff_photos_uploaded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_photos')),
    sa.UniqueConstraint('staff_id', name=op.f('uq_staff_photos_staff_id'))
    )


def downgrade():
    op.drop_table('staff_photos')

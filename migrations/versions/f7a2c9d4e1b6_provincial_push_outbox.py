"""provincial push: area and organisation codes, the outbox of deliveries (issue 14)

Revision ID: f7a2c9d4e1b6
Revises: a7c3e9d1f5b2
Create Date: 2026-12-01 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f7a2c9d4e1b6'
down_revision = "a7c3e9d1f5b2"
branch_labels = None
depends_on = None

STATES = ("delivered", "rejected")


def upgrade():
    with op.batch_alter_table('halls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('area_code', sa.String(length=6), nullable=True))
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_code', sa.String(length=18), nullable=True))
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        # Every rating already stored starts at version 1, pending (no delivery row).
        batch_op.add_column(
            sa.Column('push_version', sa.Integer(), server_default='1', nullable=False)
        )
    op.create_table('push_deliveries',
    sa.Column('rating_pk', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    # OR, not IN: see b7c1d2e3f4a5.
    sa.CheckConstraint(" OR ".join(f"state = '{s}'" for s in STATES), name=op.f('ck_push_deliveries_state')),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_push_deliveries_hall_id_halls')),
    sa.ForeignKeyConstraint(['rating_pk'], ['ratings.id'], name=op.f('fk_push_deliveries_rating_pk_ratings')),
    sa.PrimaryKeyConstraint('rating_pk', name=op.f('pk_push_deliveries'))
    )
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_deliveries_hall_id'), ['hall_id'], unique=False)
    op.create_table('push_status',
    sa.Column('hall_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_success_at', sa.DateTime(), nullable=True),
    sa.Column('last_success_count', sa.Integer(), nullable=True),
    sa.Column('last_error_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_push_status_hall_id_halls')),
    sa.PrimaryKeyConstraint('hall_id', name=op.f('pk_push_status'))
    )


def downgrade():
    op.drop_table('push_status')
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_deliveries_hall_id'))
    op.drop_table('push_deliveries')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_column('push_version')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_column('org_code')
    with op.batch_alter_table('halls', schema=None) as batch_op:
        batch_op.drop_column('area_code')

"""alerts: acknowledgements, the readers' seen spans, address tags of ratings (issue 15)

Revision ID: a7c3e9d1f5b2
Revises: f4c2a7d9e1b3
Create Date: 2026-12-01 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e9d1f5b2'
down_revision = "f4c2a7d9e1b3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alert_acks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('acked_by', sa.Integer(), nullable=True),
    sa.Column('acked_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['acked_by'], ['users.id'], name=op.f('fk_alert_acks_acked_by_users')),
    sa.ForeignKeyConstraint(['hall_id'], ['halls.id'], name=op.f('fk_alert_acks_hall_id_halls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_acks')),
    sa.UniqueConstraint('hall_id', 'code', 'subject', 'since', name=op.f('uq_alert_acks_hall_id'))
    )
    op.create_table('device_seen',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_seen_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_seen'))
    )
    with op.batch_alter_table('device_seen', schema=None) as batch_op:
        batch_op.create_index('ix_device_seen_device_last', ['device_id', 'last_seen'], unique=False)
    # The alerts read a hall's open cases and its bad reviews for every page's count.
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_hall_completed_at', ['hall_id', 'completed_at'], unique=False)
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index('ix_ratings_hall_level', ['hall_id', 'level'], unique=False)
        # Keyed hashes of the posting address (fraud signals of SPEC 12).
        batch_op.add_column(sa.Column('client_tag', sa.String(length=16), nullable=True))
    with op.batch_alter_table('service_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened_from', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('service_sessions', schema=None) as batch_op:
        batch_op.drop_column('opened_from')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_column('client_tag')
        batch_op.drop_index('ix_ratings_hall_level')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_hall_completed_at')
    with op.batch_alter_table('device_seen', schema=None) as batch_op:
        batch_op.drop_index('ix_device_seen_device_last')
    op.drop_table('device_seen')
    op.drop_table('alert_acks')

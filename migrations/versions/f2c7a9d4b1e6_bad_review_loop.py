"""bad-review loop: callbacks, appeals, rectification cause and action (issue 14, SPEC 11)

Revision ID: f2c7a9d4b1e6
Revises: e3b8f1c4a9d2
Create Date: 2026-12-01 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f2c7a9d4b1e6'
down_revision = 'e3b8f1c4a9d2'
branch_labels = None
depends_on = None

OUTCOMES = ("reached", "unreached", "impossible")
DECISIONS = ("approved", "refused")


def upgrade():
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rectification_cause', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('rectification_action', sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column('reopened_count', sa.Integer(), nullable=False, server_default='0')
        )
    op.create_table('rating_callbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.Column('called_at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('satisfied', sa.Boolean(), nullable=True),
    sa.Column('called_by', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    # OR, not IN: see b7c1d2e3f4a5.
    sa.CheckConstraint(" OR ".join(f"outcome = '{o}'" for o in OUTCOMES), name=op.f('ck_rating_callbacks_outcome')),
    sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_rating_callbacks_rating_id_ratings')),
    sa.ForeignKeyConstraint(['called_by'], ['users.id'], name=op.f('fk_rating_callbacks_called_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_callbacks'))
    )
    with op.batch_alter_table('rating_callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_callbacks_rating_id'), ['rating_id'], unique=False)
    op.create_table('rating_appeals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('filed_at', sa.DateTime(), nullable=False),
    sa.Column('filed_by', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.CheckConstraint(
        "decision IS NULL OR " + " OR ".join(f"decision = '{d}'" for d in DECISIONS),
        name=op.f('ck_rating_appeals_decision'),
    ),
    sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_rating_appeals_rating_id_ratings')),
    sa.ForeignKeyConstraint(['filed_by'], ['users.id'], name=op.f('fk_rating_appeals_filed_by_users')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_rating_appeals_decided_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_appeals')),
    sa.UniqueConstraint('rating_id', name=op.f('uq_rating_appeals_rating_id'))
    )


def downgrade():
    op.drop_table('rating_appeals')
    with op.batch_alter_table('rating_callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_callbacks_rating_id'))
    op.drop_table('rating_callbacks')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_column('reopened_count')
        batch_op.drop_column('rectification_action')
        batch_op.drop_column('rectification_cause')

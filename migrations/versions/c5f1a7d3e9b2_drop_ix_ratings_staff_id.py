"""ratings: drop ix_ratings_staff_id, which no query uses (issue 17)

Every read of ratings goes by hall and time (ix_ratings_hall_rated_at), by level for the
alerts (ix_ratings_hall_level), by session or by rating id; the joins to staff go from a
rating to its staff row, on the staff table's key. Staff are never deleted (a leaver gets
an end date), so no foreign-key check looks ratings up by staff either. The index only
cost every rating insert one more b-tree page to write.

Revision ID: c5f1a7d3e9b2
Revises: b3d8e1f2a4c7
Create Date: 2026-12-01 18:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "c5f1a7d3e9b2"
down_revision = "b3d8e1f2a4c7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_ratings_staff_id")


def downgrade():
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index("ix_ratings_staff_id", ["staff_id"], unique=False)

"""ratings: drop ix_ratings_terminal_rated_at, which no query uses (issue 17)

The misuse look-up of the rating POST walks the hall's recent ratings on
ix_ratings_hall_rated_at and reaches the terminal through the session; nothing filters
ratings by their own terminal_id (terminals are deactivated, never deleted). The index
only cost every rating insert one more b-tree write.

Revision ID: b3d8e1f2a4c7
Revises: f7a2c9d41e58
Create Date: 2026-12-01 15:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "b3d8e1f2a4c7"
down_revision = "f7a2c9d41e58"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_ratings_terminal_rated_at")


def downgrade():
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ratings_terminal_rated_at", ["terminal_id", "rated_at"], unique=False
        )

"""users.session_version: sign-out and password changes end every session

Revision ID: d9a4e1f0c2b7
Revises: b7c1d2e3f4a5
Create Date: 2026-12-01 08:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d9a4e1f0c2b7"
down_revision = "b7c1d2e3f4a5"
branch_labels = None
depends_on = None


def upgrade():
    # Existing rows start at 0; cookies issued before this migration carry no version and
    # are refused, so every open session ends once (SPEC 8).
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")

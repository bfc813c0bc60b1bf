"""withdrawn absences and events; must_change_password after an admin's reset (issue 13)

Revision ID: f4c2a7d9e1b3
Revises: f4c7a2e9b1d6
Create Date: 2026-12-01 11:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f4c2a7d9e1b3"
down_revision = "f4c7a2e9b1d6"
branch_labels = None
depends_on = None


def _withdraw_columns(table: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("withdraw_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            f"fk_{table}_withdrawn_by_users", "users", ["withdrawn_by"], ["id"]
        )


def upgrade():
    # Withdrawn rows are kept (with who, when and why) and left out of attendance,
    # scoring and the export; existing rows are not withdrawn.
    _withdraw_columns("absences")
    _withdraw_columns("events")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
    for table in ("events", "absences"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_withdrawn_by_users", type_="foreignkey")
            batch_op.drop_column("withdraw_reason")
            batch_op.drop_column("withdrawn_by")
            batch_op.drop_column("withdrawn_at")

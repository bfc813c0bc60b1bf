"""published files: the input files of a publication bundle, frozen at publication

Revision ID: f1a2b3c4d5e6
Revises: a7f3c2d19e05
Create Date: 2026-12-01 11:00:00

SPEC 13: ``export bundle`` hands out a publication's inputs as of its ``as_of``. They are
written when the period is published (hall.toml, the six CSV files, rules.toml; zlib
compressed) so that a later correction, a changed hall setting or roster never changes
an earlier revision's bundle. The table is append-only like ``published_periods`` (the
trigger function ``kiosk_append_only`` of 01fd22463086 on PostgreSQL).
"""

import sqlalchemy as sa
from alembic import op

revision = "f1a2b3c4d5e6"
down_revision = "a7f3c2d19e05"
branch_labels = None
depends_on = None

TABLE = "published_files"


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("published_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["published_id"], ["published_periods.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("published_id", "name"),
    )
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.create_index("ix_published_files_published_id", ["published_id"], unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION kiosk_append_only()"
        )
    elif dialect == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {operation} refused'); END"
            )
    else:
        raise NotImplementedError(f"append-only triggers are not written for {dialect}")


def downgrade():
    op.drop_table(TABLE)

"""published periods: per-kind inputs digests (say what changed since a publication)

Revision ID: d4e5f6a7b8c9
Revises: d9a4e1f0c2b7
Create Date: 2026-12-01 08:00:00

A nullable text column with a JSON object ``{kind: sha256}`` for the hall settings, the
roster, punches, absences, ratings, cases and events of the publication. Added with a
plain ADD COLUMN on both backends: a rebuilt SQLite table would lose the append-only
triggers of 01fd22463086.
"""

import sqlalchemy as sa
from alembic import op

revision = "d4e5f6a7b8c9"
down_revision = "d9a4e1f0c2b7"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("published_periods", sa.Column("inputs_detail", sa.Text(), nullable=True))


def downgrade():
    # SQLite before 3.35 has no DROP COLUMN; batch mode rebuilds the table, so the
    # append-only triggers are put back afterwards.
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("published_periods") as batch_op:
            batch_op.drop_column("inputs_detail")
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER IF NOT EXISTS published_periods_no_{event.lower()} "
                f"BEFORE {event} ON published_periods BEGIN "
                f"SELECT RAISE(ABORT, 'published_periods is append-only: {event} refused'); END"
            )
    else:
        op.drop_column("published_periods", "inputs_detail")

"""CHECK constraints of punches, absences and events written with OR, not IN lists

SQLite evaluates ``x IN ('a', 'b')`` in a CHECK through an ephemeral table on every
row; on a bulk import of punches that doubled the insert time. The allowed values
are unchanged.

Revision ID: b7c1d2e3f4a5
Revises: 01fd22463086
Create Date: 2026-11-26 13:00:00

"""
from alembic import op

revision = "b7c1d2e3f4a5"
down_revision = "01fd22463086"
branch_labels = None
depends_on = None

CHECKS = (
    ("punches", "ck_punches_source", "source", ("device", "import", "correction")),
    ("absences", "ck_absences_kind", "kind", ("leave", "out")),
    ("events", "ck_events_kind", "kind", ("spot_check", "complaint", "commendation")),
)


def _with_or(column: str, values: tuple[str, ...]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def _with_in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace(expression) -> None:  # type: ignore[no-untyped-def]
    for table, name, column, values in CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            # op.f(): the names are final, the naming convention must not prefix them again.
            batch_op.drop_constraint(op.f(name), type_="check")
            batch_op.create_check_constraint(op.f(name), expression(column, values))


def upgrade():
    _replace(_with_or)


def downgrade():
    _replace(_with_in)

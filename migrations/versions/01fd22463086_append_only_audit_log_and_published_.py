"""append-only audit log and published periods

The audit log and the published (frozen) period results refuse UPDATE and DELETE at the
database level: SQLite BEFORE UPDATE/DELETE triggers that abort, and on PostgreSQL one
trigger function used by BEFORE UPDATE OR DELETE row triggers. TRUNCATE (used by the
test suite to empty PostgreSQL) is a table operation that row triggers do not see.

A later batch-mode migration that rebuilds one of these tables on SQLite must create
the triggers again (a rebuilt table does not carry them over).

Revision ID: 01fd22463086
Revises: c65417c8327e
Create Date: 2026-11-26 11:31:00
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "01fd22463086"
down_revision = "c65417c8327e"
branch_labels = None
depends_on = None

TABLES = ("audit_log", "published_periods")


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION kiosk_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$
            """
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION kiosk_append_only()"
            )
    elif dialect == "sqlite":
        for table in TABLES:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END"
                )
    else:
        raise NotImplementedError(f"append-only triggers are not written for {dialect}")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS kiosk_append_only()")
    elif dialect == "sqlite":
        for table in TABLES:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")

"""Every schema change is a migration: the migrated database is the models' schema.

Alembic's own comparison (what ``flask db migrate`` would write) finds no table, column,
index or constraint that the models and the migrated database disagree on.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from kiosk.extensions import db


def test_the_migrated_schema_is_the_models_schema(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert differences == []

"""The Alembic migrations build exactly the schema the models declare (tables, columns, types,
indexes, constraints), on SQLite and on PostgreSQL: a model changed without its migration, or a
migration that differs from its model, fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from surveys import db
from surveys.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_server").create_database())
    return f"sqlite:///{tmp_path / 'schema.sqlite3'}"


def test_the_migrations_build_the_models_schema(empty_database: str) -> None:
    db.upgrade(empty_database)
    engine = create_engine(empty_database)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                           Base.metadata)
    finally:
        engine.dispose()
    assert differences == []

"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from cityops.store.base import Base
from cityops.store.engine import make_engine
from cityops.store.schema import upgrade
from tests import pg


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    upgrade(engine)
    upgrade(engine)  # idempotent: a second run is a no-op
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert set(Base.metadata.tables) <= tables
    return list(diffs)


def test_sqlite_migration_matches_models(tmp_path: Path) -> None:
    assert _diff(f"sqlite:///{tmp_path / 'm.db'}") == []


def test_postgres_migration_matches_models() -> None:
    server = pg.find_server()
    url, name = pg.create_database(server.admin_url, prefix="cityops_mig")
    try:
        assert _diff("postgresql+psycopg://" + url.split("://", 1)[1]) == []
    finally:
        pg.drop_database(server.admin_url, name)

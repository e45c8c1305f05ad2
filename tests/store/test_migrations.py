"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from cityops.store import files
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


def _sensing_diff(url: str) -> tuple[list[object], list[object]]:
    """SQLite: the main file against the models but the readings' tables, and the readings'
    file against those tables (``store.files``)."""
    engine = make_engine(url)
    upgrade(engine)
    upgrade(engine)
    apart = MetaData()
    for table in Base.metadata.sorted_tables:
        if table.name in files.TABLES:
            copy = table.to_metadata(apart, schema=files.SENSING)
            names = {tuple(i.columns.keys()): i.name for i in table.indexes}
            for index in copy.indexes:  # keep the names (the convention's label has the schema)
                index.name = names[tuple(index.columns.keys())]

    def only_sensing(name: str | None, kind: str, _parent: object) -> bool:
        return kind != "schema" or name == files.SENSING

    with engine.connect() as conn:
        in_main = set(inspect(conn).get_table_names())
        in_sensing = set(inspect(conn).get_table_names(schema=files.SENSING))
        main = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        opts = {"include_schemas": True, "include_name": only_sensing}
        sensing = compare_metadata(MigrationContext.configure(conn, opts=opts), apart)
    engine.dispose()
    assert in_sensing == files.TABLES and not in_main & files.TABLES
    assert set(Base.metadata.tables) - files.TABLES <= in_main
    # the models' tables (and their indexes) not in main: they are in the other file
    moved = [d for d in main if d[0] == "add_table" and d[1].name in files.TABLES]
    moved += [d for d in main if d[0] == "add_index" and d[1].table.name in files.TABLES]
    assert len([d for d in moved if d[0] == "add_table"]) == len(files.TABLES)
    return [d for d in main if d not in moved], list(sensing)


def test_sqlite_migration_matches_models(tmp_path: Path) -> None:
    assert _sensing_diff(f"sqlite:///{tmp_path / 'm.db'}") == ([], [])


def test_postgres_migration_matches_models() -> None:
    server = pg.find_server()
    url, name = pg.create_database(server.admin_url, prefix="cityops_mig")
    try:
        assert _diff("postgresql+psycopg://" + url.split("://", 1)[1]) == []
    finally:
        pg.drop_database(server.admin_url, name)

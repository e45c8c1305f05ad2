"""The readings' SQLite file (``store.files``): where the tables live, whose writer a transaction
takes, and the move of an older database's readings."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text

from cityops.store import files
from cityops.store.base import Base
from cityops.store.engine import make_engine, make_session_factory, transaction
from cityops.store.schema import alembic_config, upgrade


def _tables(engine: Engine, schema: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'"))
        return {str(name) for (name,) in rows}


def test_the_readings_tables_live_in_a_file_of_their_own(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'city.db'}")
    upgrade(engine)
    assert (tmp_path / "city-sensing.db").exists()
    assert _tables(engine, files.SENSING) == files.TABLES
    assert not _tables(engine, files.MAIN) & files.TABLES
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:  # unqualified names find them in the attached file
        s.execute(text("INSERT INTO sensing_watermark (name, value) VALUES ('x', 7)"))
    with sessions() as s:
        assert s.scalar(text("SELECT value FROM sensing.sensing_watermark WHERE name = 'x'")) == 7
    engine.dispose()


def test_a_memory_database_has_one_file() -> None:
    assert files.sensing_path(":memory:") is None and files.sensing_path(None) is None
    assert files.sensing_path("data/cityops.db") == "data/cityops-sensing.db"
    engine = make_engine("sqlite://")
    files.create_all(engine, Base.metadata)
    with transaction(make_session_factory(engine), writes=files.SENSING) as s:
        s.execute(text("INSERT INTO sensing_watermark (name, value) VALUES ('x', 1)"))
    assert "sensing_watermark" in _tables(engine, files.MAIN)
    engine.dispose()


def test_a_reaction_does_not_wait_for_the_readings_writer_but_a_general_writer_does(
    tmp_path: Path,
) -> None:
    """While a readings' transaction is open, a main-file transaction commits; one that may
    write both files commits only after the readings' transaction has."""
    engine = make_engine(f"sqlite:///{tmp_path / 'city.db'}")
    files.create_all(engine, Base.metadata)
    sessions = make_session_factory(engine)
    holding, release = threading.Event(), threading.Event()
    order: list[str] = []

    def store() -> None:
        with transaction(sessions, writes=files.SENSING) as s:
            s.execute(text("INSERT INTO sensing_watermark (name, value) VALUES ('s', 1)"))
            holding.set()
            release.wait(10)
        order.append("readings")

    def general() -> None:
        with transaction(sessions) as s:
            s.execute(text("INSERT INTO sensing_watermark (name, value) VALUES ('g', 1)"))
        order.append("general")

    first = threading.Thread(target=store)
    first.start()
    assert holding.wait(10)
    with transaction(sessions, writes=files.MAIN) as s:  # would time out if it waited
        s.execute(text("INSERT INTO sta_sensor (name, description, encoding_type, metadata) "
                       "VALUES ('m', '', 'text/plain', '')"))  # fmt: skip
    order.append("reaction")
    second = threading.Thread(target=general)
    second.start()
    second.join(0.5)
    assert second.is_alive()  # it waits for the readings' writer
    release.set()
    first.join(10)
    second.join(10)
    assert order == ["reaction", "readings", "general"]
    with sessions() as s:
        names = s.scalars(text("SELECT name FROM sensing_watermark ORDER BY name")).all()
        assert names == ["g", "s"]
    engine.dispose()


def test_an_older_database_moves_its_readings_with_their_ids_and_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    assert "observation" in _tables(engine, files.MAIN)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO observation (id, datastream_id, phenomenon_time, result) "
            "VALUES (5, 1, 1000, 1.5), (9, 2, 2000, 2.5)"
        ))  # fmt: skip
        conn.execute(text("INSERT INTO sensing_watermark (name, value) VALUES ('agg_id', 9)"))
    upgrade(engine)
    assert not _tables(engine, files.MAIN) & files.TABLES
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, result FROM sensing.observation ORDER BY id")).all()
        mark = conn.scalar(text("SELECT value FROM sensing_watermark"))
    assert [tuple(r) for r in rows] == [(5, 1.5), (9, 2.5)] and mark == 9
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    engine.dispose()
    assert "observation" in _tables(engine, files.MAIN)
    assert not _tables(engine, files.SENSING) & files.TABLES
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM main.observation")) == 2
    engine.dispose()

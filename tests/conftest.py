"""Shared fixtures: a database on each backend, an injected clock.

Storage tests take the ``engine`` fixture and run twice: on SQLite and on PostgreSQL. Under
``CI=true`` a missing PostgreSQL is an error, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.store.base import Base, import_all_models
from cityops.store.engine import make_engine, make_session_factory
from tests import pg

# A fixed personal-data key under tests (store/crypto.py), so nothing writes var/data.key.
TEST_DATA_KEY = "dGVzdC1rZXktZm9yLWNpdHlvcHMtdGVzdHMtMzJieXQ="
os.environ.setdefault("CITYOPS_DATA_KEY", TEST_DATA_KEY)
import_all_models()
SHANGHAI = ZoneInfo("Asia/Shanghai")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session", autouse=True)
def _model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The classifier's model cache in a temporary folder, never the checkout's var/."""
    folder = tmp_path_factory.mktemp("models")
    old = os.environ.get("CITYOPS_CLASSIFY_MODEL_DIR")
    os.environ["CITYOPS_CLASSIFY_MODEL_DIR"] = str(folder)
    yield
    if old is None:
        os.environ.pop("CITYOPS_CLASSIFY_MODEL_DIR", None)
    else:
        os.environ["CITYOPS_CLASSIFY_MODEL_DIR"] = old


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One PostgreSQL database for this test run, with the schema created."""
    try:
        server = pg.find_server()
    except Exception as exc:  # pragma: no cover - depends on the machine
        if IN_CI:
            raise
        pytest.skip(f"PostgreSQL not available: {exc}")
    url, name = pg.create_database(server.admin_url)
    sa_url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = make_engine(sa_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield sa_url
    pg.drop_database(server.admin_url, name)
    if callable(server.stop):
        server.stop()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A clean database with the current schema, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        Base.metadata.create_all(eng)
    else:
        url = request.getfixturevalue("pg_database")
        eng = make_engine(url, pool_size=5)
        _truncate_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = session_factory()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    """Wednesday 2026-11-25 09:00 in Chongqing: a working day."""
    return FakeClock(datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI))


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    """Keep the suite honest: a test needing PostgreSQL is never silently dropped in CI."""
    del config, items

"""On SQLite a GET begins as a reader: it is served while another thread holds the one writer."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from cityops.api.app import create_app
from cityops.api.context import AppContext
from cityops.bus.memory import MemoryBus
from cityops.clock import SystemClock
from cityops.settings import Settings
from cityops.store.base import Base, import_all_models
from cityops.store.engine import make_engine, make_session_factory, transaction
from tests import citykit


def test_a_get_is_answered_while_a_long_write_holds_sqlites_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'reads.db'}")
    import_all_models()
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        citykit.build(s)
    ctx = AppContext(
        settings=Settings(secret_key="k" * 32),
        engine=engine,
        sessions=sessions,
        bus=MemoryBus(),
        clock=SystemClock(),
    )
    client = TestClient(create_app(ctx), raise_server_exceptions=False)
    token = client.post(
        "/api/v1/auth/token", data={"username": "dispatcher", "password": citykit.PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    holding, release = threading.Event(), threading.Event()

    def long_write() -> None:  # e.g. a bulk import or the rollup, holding BEGIN IMMEDIATE
        with transaction(sessions) as s:
            s.connection()
            holding.set()
            release.wait(20)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert holding.wait(10)
        answers: list[int] = []
        reader = threading.Thread(
            target=lambda: answers.extend(
                client.get(path, headers=headers).status_code
                for path in ("/api/v1/auth/me", "/api/v1/cases", "/api/v1/jurisdictions/500107")
            )
        )
        reader.start()
        reader.join(10)  # a request queued behind the writer would still be waiting
        assert answers == [200, 200, 200]
    finally:
        release.set()
        writer.join(10)

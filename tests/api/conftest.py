"""A real app over a real database (both backends), driven through HTTP with TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cityops.api.app import create_app
from cityops.api.context import AppContext
from cityops.bus.memory import MemoryBus
from cityops.clock import FakeClock
from cityops.settings import Settings
from cityops.store.engine import make_session_factory
from tests import citykit


@dataclass
class Api:
    client: TestClient
    ctx: AppContext
    city: citykit.SmallCity
    clock: FakeClock
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        if who not in self.tokens:
            r = self.client.post(
                "/api/v1/auth/token", data={"username": who, "password": citykit.PASSWORD}
            )
            assert r.status_code == 200, r.text
            self.tokens[who] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def api(engine: Engine, clock: FakeClock, tmp_path: Path) -> Iterator[Api]:
    sessions = make_session_factory(engine)
    with sessions.begin() as s:
        city = citykit.build(s)
    ctx = AppContext(
        settings=Settings(
            secret_key="test-secret-key-0123456789abcdef", photo_dir=tmp_path / "photos"
        ),
        engine=engine,
        sessions=sessions,
        bus=MemoryBus(),
        clock=clock,
    )
    with TestClient(create_app(ctx), raise_server_exceptions=False) as client:
        yield Api(client, ctx, city, clock, {})

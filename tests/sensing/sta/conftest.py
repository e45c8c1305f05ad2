"""A real app on each backend, with the STA door, a city's accounts and a device key."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cityops.api.app import create_app
from cityops.api.context import AppContext
from cityops.auth.models import Role, User
from cityops.bus.memory import Event, MemoryBus
from cityops.clock import FakeClock
from cityops.settings import Settings
from cityops.store.engine import make_session_factory
from tests import citykit

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def basic(user: str, password: str = citykit.PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ADMIN = basic("admin")
DEVICE = basic("gateway")  # an account with the device role


@dataclass
class Sta:
    client: TestClient
    ctx: AppContext
    events: list[Event] = field(default_factory=list)

    def post(self, path: str, body: object, who: dict[str, str] = ADMIN) -> dict[str, object]:
        r = self.client.post(f"/sta/v1.1/{path}", json=body, headers=who)
        assert r.status_code == 201, r.text
        return dict(r.json()) if isinstance(r.json(), dict) else {"value": r.json()}

    def get(self, path: str, who: dict[str, str] = ADMIN, **params: str) -> dict[str, object]:
        r = self.client.get(f"/sta/v1.1/{path}", params=params, headers=who)
        assert r.status_code == 200, r.text
        result: dict[str, object] = r.json()
        return result


def make_ctx(engine: Engine, clock: FakeClock) -> AppContext:
    sessions = make_session_factory(engine)
    with sessions.begin() as s:
        citykit.build(s)
        s.add(
            User(
                username="gateway", display_name="gas gateway", password_hash=citykit.HASH,
                role=Role.device, scope_code=None,
            )
        )  # fmt: skip
    return AppContext(
        settings=Settings(
            secret_key="test-secret-key-0123456789abcdef", sta_default_top=100, sta_max_top=5,
        ),
        engine=engine,
        sessions=sessions,
        bus=MemoryBus(),
        clock=clock,
    )  # fmt: skip


@pytest.fixture
def sta_clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def sta(engine: Engine, sta_clock: FakeClock) -> Iterator[Sta]:
    ctx = make_ctx(engine, sta_clock)
    found: list[Event] = []
    ctx.bus.subscribe("observations.>", found.append)
    with TestClient(create_app(ctx)) as client:
        yield Sta(client, ctx, found)

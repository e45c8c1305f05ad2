"""Outbound webhooks against a real local HTTP server: signed status updates, retries, drops."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cityops.api.context import AppContext, unit_of_work
from cityops.auth.scope import machine
from cityops.bus.memory import Event, MemoryBus
from cityops.cases import intake
from cityops.cases.models import Channel
from cityops.cases.schemas import CaseCreate, Point
from cityops.cases.webhook import SIGNATURE_HEADER, sign, start_webhooks, stop_webhooks
from cityops.clock import FakeClock
from cityops.settings import Settings
from tests import citykit

SECRET = "hook-secret-for-tests"


@dataclass
class Receiver:
    url: str
    status: int = 204
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.got.append((dict(self.headers.items()), body))
            state.arrived.set()
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            del args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _ctx(engine: Engine, clock: FakeClock, url: str, **over: object) -> AppContext:
    base: dict[str, Any] = {
        "webhook_urls": f"{url}, ",
        "webhook_secret": SECRET,
        "webhook_backoff_s": 0.01,
    }
    settings = Settings(**{**base, **over})
    sessions = sessionmaker(engine, expire_on_commit=False)
    return AppContext(
        settings=settings, engine=engine, sessions=sessions, bus=MemoryBus(), clock=clock
    )


def test_a_hotline_case_update_is_posted_signed_with_its_external_ref(
    engine: Engine,
    session_factory: sessionmaker[Session],
    city: citykit.SmallCity,
    rules: Any,
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    del city
    ctx = _ctx(engine, clock, receiver.url)
    sender = start_webhooks(ctx)
    assert sender is not None
    try:
        data = CaseCreate(
            category="06010",
            channel=Channel.hotline,
            location=Point(lat=citykit.Y0 + 0.003, lng=citykit.X0 + 0.003),
            description="垃圾堆放",
            external_ref="12345:W001",
        )
        with unit_of_work(ctx) as s:
            result = intake.report(
                session=s, rules=rules, data=data, actor=machine("test"), at=clock.now()
            )
        sender.flush(timeout=10)
    finally:
        stop_webhooks(ctx)
    assert len(receiver.got) == 1
    headers, body = receiver.got[0]
    assert headers[SIGNATURE_HEADER] == sign(SECRET, body)
    got = json.loads(body)
    assert got == {
        "event": "cases.report",
        "case_id": result.case.id,
        "case_no": result.case.case_no,
        "status": "reported",
        "at": clock.now().isoformat(),
        "external_ref": "12345:W001",
    }


def test_a_failing_endpoint_is_retried_then_dropped_with_a_log_line(
    engine: Engine, clock: FakeClock, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.status = 500
    ctx = _ctx(engine, clock, receiver.url, webhook_attempts=3)
    sender = start_webhooks(ctx)
    assert sender is not None
    with caplog.at_level(logging.WARNING, logger="cityops.cases.webhook"):
        ctx.bus.publish(Event("cases.close", {"case_id": 7, "status": "closed"}))
        ctx.bus.publish(Event("alarms.raise", {"id": 1}))  # not a case update: not sent
        sender.flush(timeout=10)
        stop_webhooks(ctx)
    assert len(receiver.got) == 3
    assert all(json.loads(b)["event"] == "cases.close" for _, b in receiver.got)
    assert sender.dropped == 1 and sender.delivered == 0
    assert any(
        "dropped cases.close for case 7 after 3 attempts" in r.message for r in caplog.records
    )


def test_webhooks_without_a_secret_stay_off(engine: Engine, clock: FakeClock) -> None:
    ctx = _ctx(engine, clock, "http://127.0.0.1:9/hook", webhook_secret="")
    assert start_webhooks(ctx) is None
    ctx = _ctx(engine, clock, "ftp://example/hook")
    assert start_webhooks(ctx) is None

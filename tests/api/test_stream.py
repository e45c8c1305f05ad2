"""Server-sent events through a real uvicorn server: a report reaches those in scope only."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from cityops.api.app import create_app
from tests.api.conftest import Api
from tests.citykit import X0, Y0


@pytest.fixture
def server(api: Api) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(create_app(api.ctx), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = srv.force_exit = True  # open streams must not hold the shutdown
    thread.join(timeout=10)


def _events(base: str, token: str, found: list[dict[str, object]], ready: threading.Event) -> None:
    try:
        with httpx.stream(
            "GET", f"{base}/api/v1/stream", params={"access_token": token}, timeout=20
        ) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                if line.startswith("data: "):
                    found.append(json.loads(line[6:]))
                    if any(e.get("status") == "dispatched" for e in found):
                        return
    except httpx.RemoteProtocolError:
        return  # the server shut down under an idle stream at the end of the test


def test_case_events_stream_to_those_in_scope(api: Api, server: str) -> None:
    tokens = {
        who: api.headers(who)["Authorization"].split()[1]
        for who in ("dispatcher", "other_dispatcher")
    }
    mine: list[dict[str, object]] = []
    other: list[dict[str, object]] = []
    ready_a, ready_b = threading.Event(), threading.Event()
    t1 = threading.Thread(
        target=_events, args=(server, tokens["dispatcher"], mine, ready_a), daemon=True
    )
    t2 = threading.Thread(
        target=_events, args=(server, tokens["other_dispatcher"], other, ready_b), daemon=True
    )
    t1.start()
    t2.start()
    assert ready_a.wait(10) and ready_b.wait(10)
    r = httpx.post(
        f"{server}/api/v1/cases",
        headers=api.headers("inspector"),
        timeout=20,
        json={
            "category": "06010",
            "channel": "inspector",
            "location": {"lat": Y0 + 0.002, "lng": X0 + 0.002},
            "description": "垃圾",
            "photos": ["p://1.jpg"],
        },
    )
    assert r.status_code == 201
    t1.join(timeout=15)
    assert [e["status"] for e in mine] == ["reported", "accepted", "filed", "dispatched"]
    assert mine[0]["street_code"] == "500107001"
    assert other == []  # another district's dispatcher sees nothing of it


def test_stream_needs_a_token(server: str) -> None:
    r = httpx.get(f"{server}/api/v1/stream", timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"


def test_alarm_events_reach_the_staff_of_their_area_only() -> None:
    from cityops.api.stream import may_see
    from cityops.auth.models import Role
    from cityops.auth.scope import Principal
    from cityops.bus.memory import Event

    raised = Event("alarms.raised", {"alarm_id": 1, "jurisdiction_code": "500107001006016"})
    dispatcher = Principal(1, "d", Role.district_dispatcher, "500107", None)
    street = Principal(2, "s", Role.street_staff, "500107001", None)
    elsewhere = Principal(3, "o", Role.district_dispatcher, "500157", None)
    resident = Principal(4, "r", Role.resident, None, None)
    assert may_see(dispatcher, raised) and may_see(street, raised)
    assert not may_see(elsewhere, raised) and not may_see(resident, raised)
    nowhere = Event("alarms.raised", {"alarm_id": 2, "jurisdiction_code": None})
    assert not may_see(dispatcher, nowhere)

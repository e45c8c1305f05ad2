"""Open311 GeoReport v2 throughput over HTTP: ``POST requests`` and ``GET requests.json``.

One uvicorn server process (the machine's 2 cores are shared by it and the clients) over a
seeded synthetic city in a fresh SQLite file under var/bench/. A few concurrent httpx clients
(``BENCH_OPEN311_CLIENTS``, default 4) send ``BENCH_OPEN311_N`` requests (default 2,000) of
each kind: form-encoded POSTs as the spec shows them (spread over the city's grids and the
event categories, each with a photo URL, so most are filed and dispatched at once), GETs of
the last 90 days' list (capped at 1,000 requests by the spec), and, measured in the same run
on the same server, a bare FastAPI endpoint that returns a constant. The figure is the ratio
of each Open311 rate to the bare one.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.common import VAR, console, save

KEY = "bench-key"
PASSWORD = "bench-open311-pass"
CODES = ("06010", "06001", "09001", "10001")  # only codes the catalogue has are used


def _db() -> str:
    VAR.mkdir(parents=True, exist_ok=True)
    path = VAR / "open311.db"
    for p in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
        p.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _settings(url: str) -> Any:
    from cityops.settings import Settings

    return Settings(
        database_url=url, open311_api_keys=KEY, secret_key="bench-open311-secret-0123456789",
        photo_dir=VAR / "open311-photos", demo_password=PASSWORD,
    )  # fmt: skip


def _serve(url: str, port: int) -> None:
    import uvicorn

    from cityops.api.app import create_app
    from cityops.runtime import build_context

    ctx = build_context(_settings(url), migrate=False)
    app = create_app(ctx)

    def bare() -> list[dict[str, str]]:
        return [{"ok": "yes"}]

    app.add_api_route("/bench/bare.json", bare)
    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the web app's catch-all
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _points(url: str) -> list[tuple[float, float]]:
    from sqlalchemy import select

    from cityops.geo.models import Jurisdiction, Level
    from cityops.runtime import build_context
    from cityops.sim.city import seed_city

    ctx = build_context(_settings(url))
    seed_city(ctx=ctx, password=PASSWORD)
    with ctx.sessions() as s:
        rows = s.execute(
            select(Jurisdiction.center_lat, Jurisdiction.center_lng).where(
                Jurisdiction.level == Level.grid, Jurisdiction.center_lat.is_not(None)
            )
        ).all()
    ctx.engine.dispose()
    return [(float(a), float(b)) for a, b in rows if a is not None and b is not None]


def _rate(clients: int, n: int, call: Callable[[httpx.Client, int], httpx.Response]) -> float:
    """Requests per second of ``n`` calls shared by ``clients`` threads; every one must succeed."""
    failures: list[str] = []

    def work(start: int) -> None:
        with httpx.Client(timeout=60) as client:
            for i in range(start, n, clients):
                r = call(client, i)
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"{len(failures)} failed, e.g. {failures[0]}")
    return n / took


def main() -> None:
    n = int(os.environ.get("BENCH_OPEN311_N", "2000"))
    clients = int(os.environ.get("BENCH_OPEN311_CLIENTS", "4"))
    url = _db()
    points = _points(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(url, port))
    server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/bench/bare.json").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not server.is_alive():
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        rng = random.Random(7)
        spots = [rng.choice(points) for _ in range(n)]

        def post(c: httpx.Client, i: int) -> httpx.Response:
            lat, lng = spots[i]
            return c.post(f"{base}/open311/v2/requests.json", data={
                "api_key": KEY, "service_code": CODES[i % len(CODES)],
                "lat": f"{lat:.6f}", "long": f"{lng:.6f}",
                "description": f"第{i}号：路边有问题，请尽快处理", "media_url": f"https://example.org/{i}.jpg",
            })  # fmt: skip

        figures = {
            "bare_get_per_s": _rate(clients, n, lambda c, i: c.get(f"{base}/bench/bare.json")),
            "post_requests_per_s": _rate(clients, n, post),
            "get_requests_json_per_s": _rate(
                clients, max(n // 10, 10), lambda c, i: c.get(f"{base}/open311/v2/requests.json")
            ),
        }
    finally:
        server.terminate()
        server.join(timeout=10)
    bare = figures["bare_get_per_s"]
    result = {
        **{k: round(v, 1) for k, v in figures.items()},
        "post_ratio_to_bare": round(figures["post_requests_per_s"] / bare, 4),
        "get_ratio_to_bare": round(figures["get_requests_json_per_s"] / bare, 4),
        "n": n,
        "clients": clients,
        "server_processes": 1,
        "backend": "sqlite",
    }
    for key, value in result.items():
        console.print(f"{key:>26}: {value}")
    save("bench_open311", result)


if __name__ == "__main__":
    main()

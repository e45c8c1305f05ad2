"""Observation batches through NATS JetStream: 1 worker process vs 2, on this machine.

The stream is filled first (``BENCH_BUS_READINGS``, default 300,000 readings over 10,000
datastreams, sent as requests of 5,000 readings like ``POST /api/v1/observations``; 16
partitions, 500 readings a message), then the workers start together and the clock runs until
the stream is empty and every reading is in PostgreSQL. Each worker is a process running
``cityops.bus.consumer.ObservationWorker`` with a realistic handler: validate each reading (ISO
time parsed, value finite, id positive) and ``executemany`` into a PostgreSQL table with
``ON CONFLICT DO NOTHING`` (the dedupe the real store does), one transaction per handler call.

NATS: ``BENCH_NATS_URL`` or a throwaway ``nats-server -js`` started from the installed binary.
The figure is readings/s for 1 and 2 workers and their ratio, with the CPU seconds the workers
and the server used. On 2 cores shared by the workers, nats-server and PostgreSQL, 2 workers
cannot double the rate; the ratio says how much of the handler work overlaps.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.common import console, machine, postgres_url, repeats, save
from cityops.bus.nats import NatsBus
from cityops.bus.obs import Reading
from cityops.settings import Settings

DATASTREAMS = 10_000
REQUEST = 5_000
PARTITIONS = 16
TABLE = "bench_bus_obs"


def readings_total() -> int:
    return int(os.environ.get("BENCH_BUS_READINGS", "300000").replace("_", ""))


def pg_dsn() -> str:
    url = postgres_url()
    if url is None:
        raise SystemExit("bench_bus needs PostgreSQL")
    return "postgresql://" + url.split("://", 1)[1]


def make_handler(dsn: str) -> Any:
    """Validate and insert, one transaction per call (what the real ingest does, minus rules)."""
    conn = psycopg.connect(dsn)
    sql = (
        f"INSERT INTO {TABLE} (datastream_id, t, value, message_id) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT DO NOTHING"
    )

    def handle(readings: list[Reading]) -> None:
        rows = []
        for ds, at, value, message_id in readings:
            if not isinstance(ds, int) or ds <= 0:
                continue
            when = datetime.fromisoformat(at) if isinstance(at, str) else None
            if when is None or not isinstance(value, int | float) or not math.isfinite(value):
                continue
            rows.append((ds, when, float(value), message_id))
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(sql, rows)

    return handle


def _worker(settings: Settings, index: int, count: int, dsn: str, ready: Any, stop: Any) -> None:
    from cityops.bus.consumer import ObservationWorker

    handler = make_handler(dsn)
    ready.wait()  # everyone imported and connected: the clock starts

    async def main() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=lambda: (stop.wait(), loop.call_soon_threadsafe(done.set)), daemon=True
        ).start()
        await ObservationWorker(settings, handler, index=index, count=count).run(done)

    asyncio.run(main())


def _server() -> tuple[str, subprocess.Popen[bytes] | None, Path | None]:
    url = os.environ.get("BENCH_NATS_URL")
    if url:
        return url, None, None
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = Path(tempfile.mkdtemp(prefix="bench-nats-"))
    proc = subprocess.Popen(
        [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"nats://127.0.0.1:{port}", proc, store


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _fill(bus: NatsBus, total: int) -> float:
    started = time.perf_counter()
    batch: list[Reading] = []
    for i in range(total):
        ds = 1 + i % DATASTREAMS
        step = i // DATASTREAMS
        at = f"2026-11-25T{step // 3600 % 24:02d}:{step // 60 % 60:02d}:{step % 60:02d}+08:00"
        batch.append((ds, at, 20.0 + (i % 97) / 10, f"b-{i}"))
        if len(batch) == REQUEST:
            bus.submit(batch)
            batch = []
    if batch:
        bus.submit(batch)
    return time.perf_counter() - started


def run_once(
    url: str, server_pid: int | None, workers: int, total: int, dsn: str
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        bus_url=url,
        bus_prefix=f"bench{tag}",
        bus_stream=f"BENCH{tag}",
        bus_partitions=PARTITIONS,
        bus_chunk=500,
        bus_max_msgs=10_000_000,
        bus_max_bytes=4 << 30,
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLE}")
    bus = NatsBus(settings)
    fill_s = _fill(bus, total)
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Barrier(workers + 1), ctx.Event()
    procs = [
        ctx.Process(target=_worker, args=(settings, i, workers, dsn, ready, stop))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    server_cpu = _cpu_seconds(server_pid) if server_pid else 0.0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    ready.wait()
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            row = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
            if row and row[0] >= total and bus.backlog() == 0:
                break
            time.sleep(0.05)
    took = time.perf_counter() - started
    server_cpu = (_cpu_seconds(server_pid) - server_cpu) if server_pid else float("nan")
    stop.set()
    for p in procs:
        p.join(30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    bus.close()
    return {
        "workers": workers,
        "readings": total,
        "seconds": round(took, 2),
        "readings_per_second": round(total / took),
        "publish_readings_per_second": round(total / fill_s),
        "worker_cpu_seconds": round(worker_cpu, 2),
        "nats_server_cpu_seconds": round(server_cpu, 2),
    }


def main() -> dict[str, Any]:
    info = machine()
    dsn = pg_dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (datastream_id integer NOT NULL, "
            "t timestamptz NOT NULL, value double precision, message_id text, "
            "PRIMARY KEY (datastream_id, t))"
        )
    total = readings_total()
    url, server, store = _server()
    results: dict[int, dict[str, Any]] = {}
    try:
        for _ in range(repeats()):
            for workers in (1, 2):
                r = run_once(url, server.pid if server else None, workers, total, dsn)
                console.print(
                    f"{workers} worker(s): {r['readings_per_second']:,} readings/s "
                    f"({r['seconds']} s; publish {r['publish_readings_per_second']:,}/s; "
                    f"worker CPU {r['worker_cpu_seconds']} s, nats-server CPU "
                    f"{r['nats_server_cpu_seconds']} s)"
                )
                best = results.get(workers)
                if best is None or r["readings_per_second"] > best["readings_per_second"]:
                    results[workers] = r
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if store is not None:
            shutil.rmtree(store, ignore_errors=True)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    ratio = results[2]["readings_per_second"] / results[1]["readings_per_second"]
    console.print(
        f"[bold]JetStream → PostgreSQL[/]: 1 worker {results[1]['readings_per_second']:,}/s, "
        f"2 workers {results[2]['readings_per_second']:,}/s, ratio {ratio:.2f}× "
        f"on {info['cpus']} CPUs ({info['cpu_model']})"
    )
    load = os.getloadavg()
    console.print(f"load average during the run: {load[0]:.1f} (other work shares the machine)")
    out = {
        "one_worker": results[1],
        "two_workers": results[2],
        "ratio": round(ratio, 2),
        "load_average_1m": round(load[0], 2),
    }
    path = save("bench_bus", out)
    console.print(f"saved {path}")
    return out


if __name__ == "__main__":
    main()

"""Sensing store: observations/s into the observation table, 100,000 datastreams, 10,000 a batch.

Figures (each on SQLite, and on PostgreSQL when ``BENCH_DB`` allows):

- ``ingest``: ``cityops.sensing.service.ingest`` as the doors call it — validate (ISO times
  parsed, datastreams looked up), message-free dedupe by (datastream, time) through
  ``ON CONFLICT DO NOTHING``, the insert, each touched datastream's latest value, the bus event;
  one transaction (commit included) per batch.
- ``store``: only the insert of already validated rows, as ``ingest`` does it (raw DBAPI
  ``executemany`` on SQLite, ``unnest`` on PostgreSQL), one commit per batch.
- SQLite only, to justify the design: the same insert through SQLAlchemy Core ``executemany``
  (type processing per row), and into a ``WITHOUT ROWID`` table keyed by (datastream, time)
  instead of the rowid table with a unique index.

The database is a fresh file ``var/bench/sensing.db`` / a fresh ``cityops_bench_sensing``
database each run (``BENCH_SENSING_ROWS``, default 1,000,000 readings per figure).
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, insert, text

from bench.common import VAR, backends, console, machine, pg_admin_url, print_machine, save
from cityops.clock import FakeClock
from cityops.sensing import service
from cityops.sensing.models import Observation
from cityops.sensing.validate import Reading
from cityops.store.base import Base, import_all_models
from cityops.store.engine import make_engine, make_session_factory

DATASTREAMS = 100_000
BATCH = 10_000
START = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
import_all_models()


def rows_per_figure() -> int:
    return int(os.environ.get("BENCH_SENSING_ROWS", "1000000").replace("_", ""))


def fresh_engine(name: str, url: str) -> Engine:
    if name == "sqlite":
        path = VAR / "sensing.db"
        VAR.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{path}")
    else:
        admin = pg_admin_url()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "cityops_bench_sensing" WITH (FORCE)')
            conn.execute('CREATE DATABASE "cityops_bench_sensing"')
        base = admin.rsplit("/", 1)[0] + "/cityops_bench_sensing"
        engine = make_engine("postgresql+psycopg://" + base.split("://", 1)[1])
    Base.metadata.create_all(engine)
    seed(engine)
    return engine


def seed(engine: Engine) -> None:
    """100,000 datastreams on 25,000 things spread over Chongqing's main districts."""
    rng = random.Random(7)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sta_sensor (id, name, description, encoding_type, metadata)"
                " VALUES (1, 's', '', 'text/plain', '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sta_observed_property (id, name, definition, description)"
                " VALUES (1, 'p', '', '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sta_thing (id, name, description, is_actuator) "
                "VALUES (:id, :name, '', false)"
            ),
            [{"id": i, "name": f"t{i}"} for i in range(1, DATASTREAMS // 4 + 1)],
        )
        conn.execute(
            text(
                "INSERT INTO sta_datastream (id, name, description, unit_of_measurement, "
                "observation_type, thing_id, sensor_id, observed_property_id, lat, lng) VALUES "
                "(:id, :name, '', '{}', :ot, :thing, 1, 1, :lat, :lng)"
            ),
            [
                {
                    "id": i,
                    "name": f"d{i}",
                    "ot": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                    "thing": (i - 1) // 4 + 1,
                    "lat": 29.3 + rng.random() * 0.5,
                    "lng": 106.3 + rng.random() * 0.6,
                }
                for i in range(1, DATASTREAMS + 1)
            ],
        )


def batches(total: int, offset_s: int) -> list[list[Any]]:
    """Raw readings as the bulk door gets them: [datastream, ISO time, value]."""
    rng = random.Random(offset_s)
    out = []
    for b in range(total // BATCH):
        base = START + timedelta(seconds=offset_s + b)
        out.append(
            [
                [
                    rng.randint(1, DATASTREAMS),
                    (base + timedelta(microseconds=i)).isoformat(),
                    rng.random() * 100,
                ]
                for i in range(BATCH)
            ]
        )
    return out


def run_ingest(engine: Engine, data: list[list[Any]]) -> float:
    factory = make_session_factory(engine)
    clock = FakeClock(START + timedelta(hours=1))
    took = 0.0
    for batch in data:
        t0 = time.perf_counter()
        with factory() as s, s.begin():
            res = service.ingest(session=s, readings=batch, clock=clock)
        took += time.perf_counter() - t0
        assert res.stored == len(batch), res
    return sum(len(b) for b in data) / took


def _validated(data: list[list[Any]]) -> list[list[Reading]]:
    return [[Reading(d, datetime.fromisoformat(t), v, None) for d, t, v in batch] for batch in data]


def run_store(engine: Engine, data: list[list[Any]]) -> float:
    """Only the insert path ``ingest`` uses (``service._store``), one commit per batch."""
    factory = make_session_factory(engine)
    ready = _validated(data)
    took = 0.0
    for batch in ready:
        t0 = time.perf_counter()
        with factory() as s, s.begin():
            stored = service._store(s, batch)
        took += time.perf_counter() - t0
        assert len(stored) == len(batch)
    return sum(len(b) for b in ready) / took


def run_core(engine: Engine, data: list[list[Any]]) -> float:
    """The same insert through SQLAlchemy Core executemany (type processing per row)."""
    ready = _validated(data)
    stmt = insert(Observation.__table__).prefix_with("OR IGNORE")
    took = 0.0
    for batch in ready:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(
                stmt,
                [{"datastream_id": r[0], "phenomenon_time": r[1], "result": r[2]} for r in batch],
            )
        took += time.perf_counter() - t0
    return sum(len(b) for b in ready) / took


def run_without_rowid(engine: Engine, data: list[list[Any]]) -> float:
    """A WITHOUT ROWID table keyed by (datastream, time) instead of rowid + unique index."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE obs_norowid (datastream_id INTEGER NOT NULL, "
                "phenomenon_time DATETIME NOT NULL, result FLOAT, result_json JSON, "
                "PRIMARY KEY (datastream_id, phenomenon_time)) WITHOUT ROWID"
            )
        )
    ready = _validated(data)
    fmt = service._sqlite_time
    took = 0.0
    for batch in ready:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.executemany(
                "INSERT INTO obs_norowid (datastream_id, phenomenon_time, result, result_json) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(r[0], fmt(r[1]), r[2], None) for r in batch],
            )
        took += time.perf_counter() - t0
    return sum(len(b) for b in ready) / took


def main() -> None:
    print_machine(machine())
    total = rows_per_figure()
    results: dict[str, Any] = {"datastreams": DATASTREAMS, "batch": BATCH, "rows": total}
    for name, url in backends():
        engine = fresh_engine(name, url)
        figures: dict[str, float] = {}
        figures["store"] = run_store(engine, batches(total, 0))
        figures["ingest"] = run_ingest(engine, batches(total, 10_000))
        if name == "sqlite":
            figures["store_core_executemany"] = run_core(engine, batches(total, 20_000))
            figures["store_without_rowid"] = run_without_rowid(engine, batches(total, 30_000))
        engine.dispose()
        for key, value in figures.items():
            console.print(f"{name:8} {key:24} {value:>12,.0f} observations/s")
        results[name] = {k: round(v) for k, v in figures.items()}
    save("bench_sensing", results)


if __name__ == "__main__":
    main()

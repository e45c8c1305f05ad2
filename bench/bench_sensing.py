"""Sensing store: observations/s into the observation table, 100,000 datastreams, 10,000 a batch.

Figures (each on SQLite, and on PostgreSQL when ``BENCH_DB`` allows):

- ``ingest``: ``cityops.sensing.service.ingest`` as the doors call it — validate (ISO times
  parsed, datastreams looked up), message-free dedupe by (datastream, time) through
  ``ON CONFLICT DO NOTHING``, the insert, each touched datastream's latest value, the bus event;
  one transaction (commit included) per batch.
- ``store``: only the insert of already validated rows, as ``ingest`` does it (raw DBAPI
  ``executemany`` on SQLite, ``unnest`` on PostgreSQL), one commit per batch.
- ``ingest_latest_by_rollup``: ``ingest(update_latest=False)`` plus ``rollup`` every 5 batches
  (aggregates and latest values folded set-based), the rollup time included.
- ``rollup``: raw rows folded into the 1m/1h aggregates (and latest values) per second.
- ``latest_in_bbox``: milliseconds for the latest value of every datastream in a district-sized
  box (about 1/30 of them) and in the whole city box.
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
from cityops.sensing import obs_rows, service, timeseries
from cityops.sensing.models import Observation
from cityops.sensing.validate import Reading
from cityops.store.base import Base, import_all_models
from cityops.store.engine import make_engine, make_session_factory

DATASTREAMS = 100_000
BATCH = 10_000
START = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
import_all_models()


class Timer:
    """Wall and CPU seconds (the machine is shared: CPU time shows the code's own cost)."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Timer:
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c

    def rates(self, n: int) -> tuple[float, float]:
        return n / self.wall, n / self.cpu


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


def run_ingest(
    engine: Engine, data: list[list[Any]], *, by_rollup: bool = False
) -> tuple[float, float]:
    factory = make_session_factory(engine)
    clock = FakeClock(START + timedelta(hours=1))
    if by_rollup:
        _rollup(engine, fold_latest=True)  # start from a folded table
    timer = Timer()
    for k, batch in enumerate(data):
        with timer:
            with factory() as s, s.begin():
                res = service.ingest(
                    session=s, readings=batch, clock=clock, update_latest=not by_rollup
                )
            if by_rollup and k % 5 == 4:
                _rollup(engine, fold_latest=True)
        assert res.stored == len(batch), res
    return timer.rates(sum(len(b) for b in data))


def _rollup(engine: Engine, fold_latest: bool = False) -> int:
    with make_session_factory(engine)() as s, s.begin():
        return timeseries.rollup(session=s, max_rows=10_000_000, fold_latest=fold_latest)


def run_rollup(engine: Engine) -> tuple[float, float]:
    """Fold everything not folded yet (the store and ingest figures' rows) at once."""
    with Timer() as timer:
        folded = _rollup(engine)
    return timer.rates(folded)


def run_bbox(engine: Engine) -> dict[str, float]:
    out: dict[str, float] = {}
    boxes = {"district_ms": (106.45, 29.45, 106.55, 29.6), "city_ms": (106.0, 29.0, 107.5, 30.0)}
    for key, (a, b, c, d) in boxes.items():
        best = float("inf")
        for _ in range(3):
            with make_session_factory(engine)() as s:
                t0 = time.perf_counter()
                rows = timeseries.latest_in_bbox(
                    session=s, min_lng=a, min_lat=b, max_lng=c, max_lat=d
                )
                best = min(best, time.perf_counter() - t0)
        out[key] = round(best * 1000, 1)
        out[key.replace("_ms", "_rows")] = len(rows)
    return out


def _validated(data: list[list[Any]]) -> list[list[Reading]]:
    return [[Reading(d, datetime.fromisoformat(t), v, None) for d, t, v in batch] for batch in data]


def run_store(engine: Engine, data: list[list[Any]]) -> tuple[float, float]:
    """Only the insert path ``ingest`` uses (``obs_rows.prepare``, ``service._store``), one
    commit per batch."""
    factory = make_session_factory(engine)
    ready = _validated(data)
    timer = Timer()
    sqlite = engine.dialect.name == "sqlite"
    for batch in ready:
        with timer, factory() as s, s.begin():
            prepared = obs_rows.prepare(batch) if sqlite else None
            stored, _before, _rows = service._store(s, batch, prepared)
        assert len(stored) == len(batch)
    return timer.rates(sum(len(b) for b in ready))


def run_core(engine: Engine, data: list[list[Any]]) -> tuple[float, float]:
    """The same insert through SQLAlchemy Core executemany (type processing per row)."""
    ready = _validated(data)
    stmt = insert(Observation.__table__).prefix_with("OR IGNORE")
    timer = Timer()
    for batch in ready:
        with timer, engine.begin() as conn:
            conn.execute(
                stmt,
                [{"datastream_id": r[0], "phenomenon_time": r[1], "result": r[2]} for r in batch],
            )
    return timer.rates(sum(len(b) for b in ready))


def run_without_rowid(engine: Engine, data: list[list[Any]]) -> tuple[float, float]:
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
    timer = Timer()
    for batch in ready:
        with timer, engine.begin() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.executemany(
                "INSERT INTO obs_norowid (datastream_id, phenomenon_time, result, result_json) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(r[0], fmt(r[1]), r[2], None) for r in batch],
            )
    return timer.rates(sum(len(b) for b in ready))


def main() -> None:
    print_machine(machine())
    total = rows_per_figure()
    results: dict[str, Any] = {"datastreams": DATASTREAMS, "batch": BATCH, "rows": total}
    for name, url in backends():
        engine = fresh_engine(name, url)
        figures: dict[str, tuple[float, float]] = {}
        figures["store"] = run_store(engine, batches(total, 0))
        figures["ingest"] = run_ingest(engine, batches(total, 10_000))
        figures["rollup"] = run_rollup(engine)
        figures["ingest_latest_by_rollup"] = run_ingest(
            engine, batches(total, 40_000), by_rollup=True
        )
        bbox = run_bbox(engine)
        if name == "sqlite":
            figures["store_core_executemany"] = run_core(engine, batches(total, 20_000))
            figures["store_without_rowid"] = run_without_rowid(engine, batches(total, 30_000))
        engine.dispose()
        for key, (wall, cpu) in figures.items():
            console.print(
                f"{name:8} {key:24} {wall:>10,.0f} obs/s wall  {cpu:>10,.0f} obs/s per CPU second"
            )
        console.print(f"{name:8} latest_in_bbox           {bbox}")
        results[name] = {
            **{k: {"wall": round(w), "cpu": round(c)} for k, (w, c) in figures.items()},
            "latest_in_bbox": bbox,
        }
    save("bench_sensing", results)


if __name__ == "__main__":
    main()

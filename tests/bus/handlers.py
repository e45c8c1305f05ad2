"""A small real handler for the bus tests: store readings in a table, deduped, and log each call.

``bus_reading`` keeps one row per (datastream, time), as the real store does; ``bus_delivery``
gets a row for every reading every time it is handled, in handling order, so tests can see
order and redelivery. Environment knobs (tests only) make the worker process misbehave:
``BUS_TEST_CRASH=before_commit|after_commit`` with ``BUS_TEST_MARKER=<file>`` kills the process
once; ``BUS_TEST_SLOW=<seconds>`` with ``BUS_TEST_STARTED=<file>`` makes a handler call slow and
says when it began.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from cityops.bus.obs import Handler, Reading

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS bus_reading (datastream_id INTEGER NOT NULL, t TEXT NOT NULL, "
    "value REAL, message_id TEXT, PRIMARY KEY (datastream_id, t))",
    "CREATE TABLE IF NOT EXISTS bus_delivery (datastream_id INTEGER NOT NULL, t TEXT NOT NULL, "
    "pid INTEGER NOT NULL)",
)


def create_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for ddl in SCHEMA:
            conn.execute(text(ddl))


def make_store_handler(engine: Engine) -> Handler:
    create_tables(engine)
    crash = os.environ.get("BUS_TEST_CRASH", "")
    marker = Path(os.environ.get("BUS_TEST_MARKER", "/nonexistent/marker"))
    slow = float(os.environ.get("BUS_TEST_SLOW", "0"))
    started = os.environ.get("BUS_TEST_STARTED")

    def handle(readings: list[Reading]) -> None:
        if not readings:  # the worker's "does the store work?" call
            with engine.begin() as conn:
                conn.execute(text("SELECT 1 FROM bus_reading LIMIT 1"))
            return
        if started:
            Path(started).write_text(str(len(readings)))
        if slow:
            time.sleep(slow)
        once = bool(crash) and not marker.exists()
        if once:
            marker.write_text(crash)
        if once and crash == "before_commit":
            os._exit(3)
        rows: list[dict[str, Any]] = [
            {"d": r[0], "t": str(r[1]), "v": r[2], "m": r[3], "pid": os.getpid()} for r in readings
        ]
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO bus_reading VALUES (:d, :t, :v, :m) "
                    "ON CONFLICT (datastream_id, t) DO NOTHING"
                ),
                rows,
            )
            conn.execute(text("INSERT INTO bus_delivery VALUES (:d, :t, :pid)"), rows)
        if once and crash == "after_commit":
            os._exit(3)

    return handle


def make_handler(ctx: Any) -> Handler:
    """The ``CITYOPS_WORKER_HANDLER`` factory: readings into the context's database."""
    return make_store_handler(ctx.engine)

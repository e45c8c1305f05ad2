"""A small standalone store for the MQTT door: readings and actuator commands in one SQLite file.

It is what the tests and ``bench/bench_mqtt.py`` hand batches to, and what runs the door
without the full sensing store. One ``executemany`` per batch into a table keyed by
(datastream, phenomenon time) with ``ON CONFLICT DO NOTHING``: a redelivered message costs a
key probe and is counted as a duplicate.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cityops.sensing.mqtt import IngestOutcome
from cityops.sensing.mqtt_commands import Command, CommandAck
from cityops.sensing.mqtt_payload import Reading

SCHEMA = """
CREATE TABLE IF NOT EXISTS observation (
  datastream_id INTEGER NOT NULL,
  phenomenon_us INTEGER NOT NULL,       -- Unix epoch microseconds
  result ANY,
  result_time_us INTEGER,
  message_id TEXT NOT NULL,
  PRIMARY KEY (phenomenon_us, datastream_id)  -- time first: a batch appends at the end
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS actuator_command (
  id INTEGER PRIMARY KEY,
  thing_id INTEGER NOT NULL,
  command TEXT NOT NULL,
  parameters TEXT NOT NULL,
  issued_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'sent',  -- sent | acked | failed, as ActuatorCommand
  ack_payload TEXT,
  acked_at TEXT
);
"""
INSERT = (
    "INSERT INTO observation (datastream_id, phenomenon_us, result, result_time_us, message_id)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def _result(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


class SqliteReadingStore:
    """``IngestHandler`` and ``CommandRecorder`` on one SQLite file (WAL), integer command ids."""

    def __init__(self, path: Path | str, *, datastreams: Iterable[int] | None = None) -> None:
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA cache_size=-262144")  # 256 MB: inserts land all over the key
        self.conn.executescript(SCHEMA)
        self.known = set(datastreams) if datastreams is not None else None
        self.lock = threading.Lock()

    def __call__(self, readings: Sequence[Reading]) -> IngestOutcome:
        rejected: dict[int, tuple[str, str]] = {}
        known = self.known
        rows = []
        for i, r in enumerate(readings):
            if known is not None and r.datastream_id not in known:
                rejected[i] = ("unknown_datastream", f"no datastream {r.datastream_id}")
                continue
            rt = r.result_time
            rows.append(
                (
                    r.datastream_id,
                    round(r.phenomenon_time.timestamp() * 1e6),
                    _result(r.result),
                    round(rt.timestamp() * 1e6) if rt is not None else None,
                    r.message_id,
                )
            )
        with self.lock:
            self.conn.execute("BEGIN")
            try:
                stored = self.conn.executemany(INSERT, rows).rowcount if rows else 0
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return IngestOutcome(stored, len(rows) - stored, rejected)

    def count(self) -> int:
        with self.lock:
            return int(self.conn.execute("SELECT count(*) FROM observation").fetchone()[0])

    def observations(self, datastream_id: int) -> list[tuple[int, Any]]:
        """(epoch µs, result) of one datastream, in time order."""
        with self.lock:
            return list(
                self.conn.execute(
                    "SELECT phenomenon_us, result FROM observation WHERE datastream_id = ?"
                    " ORDER BY phenomenon_us",
                    (datastream_id,),
                )
            )

    # -- commands: recorded before they are published; CommandRecorder for the acks -------
    def record_command(
        self, *, thing_id: int, command: str, parameters: dict[str, Any], issued_at: datetime
    ) -> Command:
        """Record a command (status ``sent``) and return it, with its new id, to publish."""
        with self.lock:
            cur = self.conn.execute(
                "INSERT INTO actuator_command (thing_id, command, parameters, issued_at)"
                " VALUES (?, ?, ?, ?)",
                (thing_id, command, json.dumps(parameters), issued_at.isoformat()),
            )
            assert cur.lastrowid is not None
            return Command(cur.lastrowid, thing_id, command, issued_at, parameters)

    def acknowledged(self, ack: CommandAck) -> bool:
        with self.lock:
            cur = self.conn.execute(
                "UPDATE actuator_command SET status = ?, ack_payload = ?, acked_at = ?"
                " WHERE id = ? AND thing_id = ?",
                (
                    "acked" if ack.ok else "failed",
                    json.dumps(ack.payload),
                    ack.received_at.isoformat(),
                    ack.command_id,
                    ack.thing_id,
                ),
            )
            return cur.rowcount == 1

    def command(self, command_id: int) -> dict[str, Any] | None:
        with self.lock:
            cur = self.conn.execute("SELECT * FROM actuator_command WHERE id = ?", (command_id,))
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        return dict(zip(names, row, strict=True)) if row else None

    def close(self) -> None:
        self.conn.close()

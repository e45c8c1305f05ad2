"""Checkpoint SQLite's write-ahead log from a thread of its own.

Otherwise the connection whose commit pushes the WAL past 10,000 pages (``store.engine``) copies
the log back into the database and syncs the file, so that one commit waits for the disk. The app
instead checkpoints every half second from this thread (PASSIVE: it never blocks writers or
readers), and leaves the commit-time checkpoint only as a backstop for a WAL that grows past
``BACKSTOP_PAGES`` while this thread is not keeping up.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

# ≈ 400 MB of log before a commit checkpoints by itself. At 20,000 pages (80 MB) busy writers
# passed it every few seconds, and whichever commit did (a fan command's, a report's) waited on
# the copy and the sync: breach → command p99 95 ms and intake p99 138 ms; at 100,000, 41 ms and
# 85 ms (bench pipeline and intake, 2026-11-26).
BACKSTOP_PAGES = 100_000


class WalCheckpointer:
    """A daemon thread running ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds."""

    def __init__(self, engine: Engine, *, interval: float = 0.5) -> None:
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            raise ValueError("a WAL checkpointer needs an SQLite database file")
        self.path, self.interval = database, interval
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)

        @event.listens_for(engine, "connect")
        def _raise_backstop(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")

        engine.dispose()  # connections made before now keep the default; start afresh

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        """One pass; frames a reader still needs are left for the next one."""
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.checkpoint(conn)
                except sqlite3.Error:
                    log.exception("WAL checkpoint failed; the commit-time backstop still holds")
        finally:
            conn.close()


def start_checkpointer(engine: Engine) -> WalCheckpointer | None:
    """Checkpoint in the background when ``engine`` is an SQLite file; None otherwise."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return WalCheckpointer(engine).start()

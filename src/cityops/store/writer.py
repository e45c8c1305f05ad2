"""SQLite's one writer, handed over first come, first served among this process's threads.

SQLite lets one transaction write at a time; the others wait in its busy handler, which polls
with sleeps of up to 100 ms. A thread that commits and at once begins again (a door storing batch
after batch, the rollup folding chunk after chunk) therefore wins the lock over and over while
another sleeps: in the pipeline benchmark a fan command waited up to 1.5 s behind the rollup.
Queued here instead, each thread waits for the transactions ahead of it and no longer.
Other processes on the same file still meet SQLite's busy handler.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque


class WriterQueue:
    """A FIFO lock held from ``BEGIN IMMEDIATE`` to commit or rollback, per SQLite engine."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._holder: object | None = None

    def enter(self, who: object) -> None:
        """Wait for the turn of ``who`` (a DBAPI connection); ``database is locked`` on timeout."""
        with self._cond:
            if self._holder is None and not self._waiting:
                self._holder = who
                return
            self._waiting.append(who)
            ok = self._cond.wait_for(
                lambda: self._holder is None and self._waiting[0] is who, self.timeout
            )
            self._waiting.remove(who)
            if not ok:
                self._cond.notify_all()  # the next in line may be free to go now
                raise sqlite3.OperationalError(
                    f"database is locked (waited {self.timeout:g} s for the writer)"
                )
            self._holder = who

    def leave(self, who: object) -> None:
        """End the turn of ``who``; nothing if it does not hold it (a read, a second rollback)."""
        with self._cond:
            if self._holder is who:
                self._holder = None
                self._cond.notify_all()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

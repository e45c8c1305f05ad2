"""A pass run again and again in a background thread: the schedulers' one loop.

``step()`` is one pass (its own transaction, as the subclasses make it); a pass that raises is
logged and the loop goes on, so the next pass retries. ``stop()`` wakes the wait at once.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

log = logging.getLogger(__name__)


class Periodic(ABC):
    """Runs ``step`` every ``interval`` seconds in a daemon thread named ``name``."""

    def __init__(self, name: str, interval: float) -> None:
        self.name = name
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)

    @abstractmethod
    def step(self) -> object:
        """One pass; what it returns is the subclass's (counts, ids) for its callers."""

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # keep running; the next pass retries
                log.exception("%s pass failed", self.name)
            self._stop.wait(self.interval)

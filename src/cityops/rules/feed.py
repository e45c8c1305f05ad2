"""Feed stored readings to the rules engine from a thread of its own, and fire its timers.

The intake publishes one ``observations.batch`` event per committed batch. The feed keeps them
in a bounded queue: when rules fall behind, the publisher waits (back-pressure reaches the door
that accepted the readings) and nothing is dropped. One thread owns the engine, so readings and
timers are evaluated in order and the per-stream state needs no lock.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cityops.bus.base import Bus
from cityops.bus.memory import Event
from cityops.rules.engine import RulesEngine
from cityops.rules.evaluate import Reading

log = logging.getLogger(__name__)

SUBJECT = "observations.batch"
MAX_READINGS = 20_000  # merged from queued batches into one engine transaction


def readings_of(data: dict[str, Any], watched: dict[int, Any]) -> list[Reading]:
    """The numeric readings of one batch event on datastreams some plan watches.

    None of a batch a door evaluated before storing it (``sensing.door``): it has been seen.
    """
    out: list[Reading] = []
    if data.get("evaluated"):
        return out
    for ds, t, value in zip(data["datastream_id"], data["time"], data["result"], strict=True):
        if ds in watched and isinstance(value, int | float) and not isinstance(value, bool):
            out.append(Reading(int(ds), datetime.fromtimestamp(float(t), UTC), float(value)))
    return out


class RulesFeed:
    """Queue → engine.process; engine.tick every ``tick_seconds``; ``watch`` every
    ``watch_seconds``."""

    def __init__(
        self,
        engine: RulesEngine,
        bus: Bus,
        *,
        max_batches: int = 256,
        tick_seconds: float = 1.0,
        watch: Callable[[], object] | None = None,
        watch_seconds: float = 5.0,
    ) -> None:
        self.engine, self.bus, self.tick_seconds = engine, bus, tick_seconds
        self.watch, self.watch_seconds = watch, watch_seconds  # e.g. rebind on new devices
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_batches)
        self.processed = 0
        self.failures = 0
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._unsubscribe = bus.subscribe(SUBJECT, self._on_batch)
        self._thread = threading.Thread(target=self._run, name="rules-feed", daemon=True)

    def _on_batch(self, event: Event) -> None:
        self._idle.clear()
        self.queue.put(event.data)  # blocks when full: back-pressure, never a drop

    def start(self) -> RulesFeed:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._unsubscribe()
        self._stop.set()
        self._thread.join(timeout=timeout)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queued batch is evaluated (tests, orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.empty() and self._idle.wait(0.05):
                return True
        return False

    def _take(self) -> list[Reading]:
        first = self.queue.get(timeout=self.tick_seconds)
        readings = readings_of(first, self.engine.index)
        while len(readings) < MAX_READINGS:
            try:
                readings += readings_of(self.queue.get_nowait(), self.engine.index)
            except queue.Empty:
                break
        return readings

    def _run(self) -> None:
        last_tick, last_watch = 0.0, time.monotonic()
        while not self._stop.is_set():
            readings: list[Reading] = []
            try:
                readings = self._take()
            except queue.Empty:
                pass
            except Exception:  # a malformed event: counted and logged, the feed goes on
                self.failures += 1
                log.exception("unreadable observations.batch event")
            try:
                if readings:
                    self.engine.process(readings)
                    self.processed += len(readings)
                if time.monotonic() - last_tick >= self.tick_seconds:
                    last_tick = time.monotonic()
                    self.engine.tick()
                if self.watch is not None and time.monotonic() - last_watch >= self.watch_seconds:
                    last_watch = time.monotonic()
                    self.watch()
            except Exception:  # the feed never dies; the batch's failure is logged
                self.failures += 1
                log.exception("rules evaluation failed on a batch of %d readings", len(readings))
            if self.queue.empty():
                self._idle.set()

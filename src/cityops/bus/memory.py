"""In-process publish/subscribe with typed events and unsubscribe handles.

A listener's error is logged, never passed on to the publisher (Home Assistant's rule).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Listener = Callable[["Event"], None]


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: a subject (``cases.filed``) and a JSON-able body."""

    subject: str
    data: dict[str, Any] = field(default_factory=dict)


class MemoryBus:
    """Subjects match exactly, or by prefix when subscribed as ``cases.*`` / ``*``."""

    def __init__(self) -> None:
        self._listeners: list[tuple[str, Listener]] = []
        self._lock = threading.Lock()

    def subscribe(self, pattern: str, listener: Listener) -> Callable[[], None]:
        entry = (pattern, listener)
        with self._lock:
            self._listeners.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._listeners:
                    self._listeners.remove(entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            targets = [fn for pat, fn in self._listeners if _matches(pat, event.subject)]
        for fn in targets:
            try:
                fn(event)
            except Exception:
                log.exception("bus listener failed on %s", event.subject)

    def subscribe_queue(
        self, pattern: str, loop: asyncio.AbstractEventLoop, maxsize: int = 1000
    ) -> tuple[asyncio.Queue[Event], Callable[[], None]]:
        """An asyncio queue fed from any thread (for server-sent events); drops when full."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)

        def put(event: Event) -> None:
            if queue.full():
                return
            loop.call_soon_threadsafe(_put_nowait, queue, event)

        return queue, self.subscribe(pattern, put)

    def close(self) -> None:
        """Nothing to release; here so either bus can be closed the same way."""


def _put_nowait(queue: asyncio.Queue[Event], event: Event) -> None:
    if not queue.full():
        queue.put_nowait(event)


def _matches(pattern: str, subject: str) -> bool:
    if pattern in ("*", ">"):
        return True
    if pattern.endswith(".*") or pattern.endswith(".>"):
        return subject.startswith(pattern[:-1])
    return pattern == subject


def queue_event(session_info: dict[str, Any], subject: str, data: dict[str, Any]) -> None:
    """Hold an event until the transaction commits (pass ``session.info``)."""
    session_info.setdefault("events", []).append(Event(subject, data))

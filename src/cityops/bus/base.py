"""What the app needs from a bus, whichever one the settings chose (memory or NATS)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from cityops.bus.memory import Event, Listener


class Bus(Protocol):
    """Events (``cases.filed`` …) to every subscriber: in this process, or in every process."""

    def publish(self, event: Event) -> None: ...

    def subscribe(self, pattern: str, listener: Listener) -> Callable[[], None]: ...

    def subscribe_queue(
        self, pattern: str, loop: asyncio.AbstractEventLoop, maxsize: int = 1000
    ) -> tuple[asyncio.Queue[Event], Callable[[], None]]: ...

    def close(self) -> None: ...

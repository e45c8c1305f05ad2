"""What the running app holds: settings, engine, sessions, bus, clock, the loaded catalogues."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cityops.bus.base import Bus
from cityops.bus.memory import Event
from cityops.clock import Clock
from cityops.settings import Settings
from cityops.store.engine import transaction


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    bus: Bus
    clock: Clock
    # Domain singletons (category catalogue, dispatch plans, geo index) by name.
    extras: dict[str, Any] = field(default_factory=dict)


@contextmanager
def unit_of_work(ctx: AppContext) -> Iterator[Session]:
    """One transaction; the bus events it queued are published only after it commits."""
    with transaction(ctx.sessions) as session:
        yield session
        events: list[Event] = session.info.pop("events", [])
    for event in events:
        ctx.bus.publish(event)

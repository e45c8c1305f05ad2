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
from cityops.store.engine import READ_ONLY_OPTION, transaction


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
def unit_of_work(ctx: AppContext, *, reads_first: bool = False) -> Iterator[Session]:
    """One transaction; the bus events it queued are published only after it commits.

    ``reads_first`` begins it as a reader: on SQLite a plain BEGIN that neither takes nor waits
    for the one writer, so a slow read (a city-wide list) never holds up other requests. A
    write inside it still commits (SQLite upgrades the lock when it comes).
    """
    with transaction(ctx.sessions) as session:
        if reads_first:
            session.connection(execution_options={READ_ONLY_OPTION: True})
        yield session
        events: list[Event] = session.info.pop("events", [])
    for event in events:
        ctx.bus.publish(event)

"""Build the running process's context: engine, sessions, bus, clock."""

from __future__ import annotations

from cityops.api.context import AppContext
from cityops.bus.memory import MemoryBus
from cityops.clock import Clock, SystemClock
from cityops.settings import Settings
from cityops.store.checkpoint import start_checkpointer
from cityops.store.engine import make_engine, make_session_factory
from cityops.store.schema import upgrade


def build_context(
    settings: Settings, *, clock: Clock | None = None, migrate: bool = True
) -> AppContext:
    """Connect, bring the schema to head, wire the in-process bus, checkpoint SQLite's WAL."""
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    checkpointer = start_checkpointer(engine)
    return AppContext(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        bus=MemoryBus(),
        clock=clock or SystemClock(),
        extras={"wal_checkpointer": checkpointer} if checkpointer else {},
    )

"""What the running app holds: settings, engine, sessions, bus, clock, the loaded catalogues."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cityops.bus.memory import MemoryBus
from cityops.clock import Clock
from cityops.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    bus: MemoryBus
    clock: Clock
    # Domain singletons (category catalogue, dispatch plans, geo index) by name.
    extras: dict[str, Any] = field(default_factory=dict)

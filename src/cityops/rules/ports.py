"""What the engine acts through: a directory of sources, actuators, notifications, the case engine.

Each port is a small Protocol; every call gets the engine's session so its writes join the same
transaction. The sensing layer implements ``Directory`` and ``Actuator``; ``cases.CasePortImpl``
(in ``rules.caseport``) implements ``CasePort`` over the case engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from cityops.bus.memory import queue_event
from cityops.rules.plans import Selector


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the engine knows about a datastream: where it is and what it can command."""

    datastream_id: int
    name: str = ""
    thing_id: int | None = None
    observed_property: str | None = None
    unit: str | None = None
    lat: float | None = None
    lng: float | None = None
    component_ident: str | None = None
    jurisdiction_code: str | None = None
    actuators: dict[str, int] = field(default_factory=dict)  # role (fan, valve…) → thing id


class Directory(Protocol):
    def describe(self, datastream_id: int) -> SourceInfo | None: ...

    def select(self, selector: Selector) -> list[int]: ...


class Actuator(Protocol):
    def actuate(
        self,
        *,
        session: Session,
        at: datetime,
        thing_id: int,
        command: str,
        payload: dict[str, Any],
        reason: str,
    ) -> str | None:
        """Send a command (recorded by the sensing layer); returns its id if it has one."""
        ...


class Notifier(Protocol):
    def notify(
        self, *, session: Session, at: datetime, to: list[str], message: str, about: dict[str, Any]
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class CaseRef:
    """A case the engine opened or touched: its id and whether it is closed."""

    case_id: int
    closed: bool = False


class CasePort(Protocol):
    def open_case(
        self,
        *,
        session: Session,
        at: datetime,
        plan: str,
        source: SourceInfo,
        category: str,
        title: str | None,
        description: str,
        evidence: list[dict[str, Any]],
    ) -> CaseRef: ...

    def add_evidence(
        self, *, session: Session, at: datetime, plan: str, case_id: int, evidence: list[Any]
    ) -> CaseRef: ...

    def verify(
        self, *, session: Session, at: datetime, plan: str, case_id: int, evidence: list[Any]
    ) -> CaseRef:
        """Readings normal for the hold period: verify and close if the case awaits it."""
        ...

    def recurrence(
        self,
        *,
        session: Session,
        at: datetime,
        plan: str,
        case_id: int,
        source: SourceInfo,
        evidence: list[Any],
    ) -> CaseRef:
        """The problem is back: rework the case, or reopen it as a new linked case."""
        ...


def matching(sources: Iterable[SourceInfo], selector: Selector) -> list[int]:
    """Datastream ids a selector names: observed property (any case), area prefix, 部件."""
    wanted = selector.observed_property.upper()
    return sorted(
        s.datastream_id
        for s in sources
        if (s.observed_property or "").upper() == wanted
        and (not selector.area or (s.jurisdiction_code or "").startswith(selector.area))
        and (not selector.component or s.component_ident == selector.component)
    )


class StaticDirectory:
    """A directory from a fixed list (tests, and inline sources in plans)."""

    def __init__(self, sources: list[SourceInfo] | None = None) -> None:
        self._by_id = {s.datastream_id: s for s in sources or []}

    def add(self, info: SourceInfo) -> None:
        self._by_id[info.datastream_id] = info

    def describe(self, datastream_id: int) -> SourceInfo | None:
        return self._by_id.get(datastream_id)

    def select(self, selector: Selector) -> list[int]:
        return matching(self._by_id.values(), selector)


@dataclass
class RecordingActuator:
    """Keeps the commands (tests, and a deployment with no actuators wired yet)."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    def actuate(
        self,
        *,
        session: Session,
        at: datetime,
        thing_id: int,
        command: str,
        payload: dict[str, Any],
        reason: str,
    ) -> str | None:
        self.sent.append(
            {"at": at, "thing_id": thing_id, "command": command, "payload": payload, "why": reason}
        )
        return f"cmd-{len(self.sent)}"


class BusNotifier:
    """Notifications as bus events (``alarms.notify``), published after the commit."""

    def notify(
        self, *, session: Session, at: datetime, to: list[str], message: str, about: dict[str, Any]
    ) -> None:
        queue_event(
            session.info,
            "alarms.notify",
            {"at": at.isoformat(), "to": to, "message": message, **about},
        )

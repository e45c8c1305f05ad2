"""The rules engine's view of the sensing network (its ``Directory`` and ``Actuator`` ports).

Read when the engine starts: every datastream with what a plan selects it by (the observed
property's code, the area, the 部件) and the actuators on the same 部件 by role (``fan``).
``Rebinder`` reads it again, and binds the plans again, whenever the sensing catalogue moves
(a device, datastream or observed property made, changed or removed through ``entities``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.registry.models import Component
from cityops.rules.plans import PlanSet, Selector, load_plans, plans_signature
from cityops.rules.ports import SourceInfo, matching
from cityops.sensing import catalogue, service
from cityops.sensing.models import Datastream, ObservedProperty, Thing
from cityops.store.engine import reading

log = logging.getLogger(__name__)

RULES_ACTOR = "system:rules"


def property_code(prop: ObservedProperty) -> str:
    """What plans call an observed property: its ``code`` (or the simulator's key), else name."""
    extra = prop.properties or {}
    return str(extra.get("code") or extra.get("sim_property") or prop.name).upper()


def _role(thing: Thing) -> str | None:
    role = (thing.properties or {}).get("role")
    return str(role) if role else None


class SensingDirectory:
    """Datastreams as the engine's sources; ``refresh`` after devices are added."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.sources: dict[int, SourceInfo] = {}
        self.refresh()

    def refresh(self) -> None:
        with self.sessions() as session:
            actuators: dict[int, dict[str, int]] = {}
            for thing in session.scalars(select(Thing).where(Thing.is_actuator.is_(True))):
                role = _role(thing)
                if thing.component_id is not None and role:
                    actuators.setdefault(thing.component_id, {})[role] = thing.id
            rows = session.execute(
                select(Datastream, ObservedProperty, Thing, Component)
                .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
                .join(Thing, Thing.id == Datastream.thing_id)
                .outerjoin(Component, Component.id == Thing.component_id)
            )
            sources: dict[int, SourceInfo] = {}
            for ds, prop, thing, comp in rows:
                unit = (ds.unit_of_measurement or {}).get("symbol")
                sources[ds.id] = SourceInfo(
                    datastream_id=ds.id,
                    name=ds.name,
                    thing_id=thing.id,
                    observed_property=property_code(prop),
                    unit=str(unit) if unit else None,
                    lat=ds.lat if ds.lat is not None else (comp.lat if comp else None),
                    lng=ds.lng if ds.lng is not None else (comp.lng if comp else None),
                    component_ident=comp.ident if comp else None,
                    jurisdiction_code=(
                        (comp.grid_code or comp.street_code or comp.district_code) if comp else None
                    ),
                    actuators=dict(actuators.get(thing.component_id or -1, {})),
                )
        self.sources = sources

    def describe(self, datastream_id: int) -> SourceInfo | None:
        return self.sources.get(datastream_id)

    def select(self, selector: Selector) -> list[int]:
        return matching(self.sources.values(), selector)


class SensingActuator:
    """Commands are recorded (``sensing_actuator_command``) and published after the commit."""

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
        row = service.record_command(
            session=session,
            thing_id=thing_id,
            command=command,
            payload={**payload, "reason": reason},
            issued_by=RULES_ACTOR,
            clock=FakeClock(at),
        )
        return str(row.id)


class Rebindable(Protocol):
    def rebind(self) -> tuple[int, int]: ...

    def reload(self, plans: PlanSet) -> tuple[int, int]: ...


class Rebinder:
    """Call it now and then (the rules feed does, every few seconds). An edited plan file is
    loaded again (validated: a bad plan is reported and disabled, the rest run on); a moved
    catalogue token refreshes the directory. Either way the engine binds again, so new devices
    and changed 预案 take effect without a restart.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        directory: SensingDirectory,
        engine: Rebindable,
        *,
        plan_paths: list[Path] | None = None,
        overrides: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        self.sessions, self.directory, self.engine = sessions, directory, engine
        self.plan_paths, self.overrides = plan_paths, overrides
        self.version = self._version()
        self.plan_files = plans_signature(plan_paths)

    def _version(self) -> int:
        with reading(self.sessions) as session:
            return catalogue.version(session=session)

    def __call__(self) -> bool:
        """True when it bound again."""
        files = plans_signature(self.plan_paths)
        if files != self.plan_files:
            self.plan_files = files  # first: an edit made while loading is seen next time
            plans = load_plans(self.plan_paths, overrides=self.overrides)
            added, removed = self.engine.reload(plans)
            log.info(
                "plan files changed: %d plans, %d disabled; %d instances added, %d removed",
                len(plans.plans), len(plans.disabled), added, removed,
            )  # fmt: skip
            return True
        now = self._version()  # read first: a change made during the refresh is seen next time
        if now == self.version:
            return False
        self.directory.refresh()
        added, removed = self.engine.rebind()
        self.version = now
        log.info("sensing catalogue changed: %d rule instances added, %d removed", added, removed)
        return True

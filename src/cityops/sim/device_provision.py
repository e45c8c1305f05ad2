"""Provision simulated devices on the registry's 部件: Things, Locations, Sensors, Datastreams.

``plan_devices`` (pure) picks the components: each kind gets a share of ``count`` by its weight
and sits on components of its categories (one device of a kind per component); every gas
detector gets an exhaust fan on the same tank. The first crowd counter on a footbridge in
江北区 (500105) is the 观音桥 one the crowd-surge incidents prefer.

``provision`` writes the plan in the caller's transaction and is idempotent: a device is keyed by
``<kind>:<component ident>`` in its Thing's ``properties["sim"]`` and a datastream by
``properties["sim_property"]``; what exists is reused, only what is missing is created. Sensors
(one per kind) and observed properties (one per property) go through
``cityops.sensing.entities``; the thousands of per-device rows are added in bulk with the same
derived fields ``entities`` keeps (location lat/lng, datastream lat/lng, a HistoricalLocation),
and the datastream catalogue is bumped once.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import Clock
from cityops.registry.models import Component
from cityops.sensing import entities, service
from cityops.sensing.models import (
    Datastream,
    HistoricalLocation,
    HistoricalLocationLocation,
    Location,
    ObservationType,
    ObservedProperty,
    Sensor,
    Thing,
    ThingLocation,
)
from cityops.sim.device_kinds import DeviceKind, load_kinds
from cityops.sim.devices import Device

GUANYINQIAO_DISTRICT = "500105"  # 江北区
GUANYINQIAO_TAG = "guanyinqiao"
COMMAND_TOPIC = "cityops/v1/things/{id}/commands"


@dataclass(frozen=True, slots=True)
class Site:
    """The component facts the plan needs."""

    id: int
    ident: str
    name: str
    category_code: str
    district_code: str | None
    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class PlannedDevice:
    key: str
    kind: str
    site: Site
    name: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    devices: list[Device]
    created_things: int
    created_datastreams: int


def plan_devices(
    *, sites: Sequence[Site], count: int, kinds: Mapping[str, DeviceKind], seed: int = 7
) -> list[PlannedDevice]:
    """About ``count`` devices (plus a fan per gas detector) on the given components."""
    placed = {k: v for k, v in kinds.items() if v.weight > 0}
    total = sum(k.weight for k in placed.values()) or 1.0
    by_cat: dict[str, list[Site]] = {}
    for s in sorted(sites, key=lambda s: s.ident):
        by_cat.setdefault(s.category_code, []).append(s)
    out: list[PlannedDevice] = []
    fan = next((k for k in kinds.values() if k.actuator), None)
    for kind in placed.values():
        want = max(1, round(count * kind.weight / total)) if count > 0 else 0
        rng = random.Random(f"{seed}:{kind.key}")
        pool: list[Site] = []
        for code in kind.categories:  # preferred categories first, each shuffled
            group = list(by_cat.get(code, []))
            rng.shuffle(group)
            pool += group
        if kind.key == "crowd_counter":  # 观音桥 first
            pool.sort(key=lambda s: s.district_code != GUANYINQIAO_DISTRICT)
        for n, site in enumerate(pool[:want]):
            tags: tuple[str, ...] = ()
            name = f"{kind.name} {site.name}"
            if kind.key == "crowd_counter" and n == 0:
                tags, name = (GUANYINQIAO_TAG,), f"{kind.name} 观音桥步行街天桥 ({site.name})"
            out.append(PlannedDevice(f"{kind.key}:{site.ident}", kind.key, site, name, tags))
            if kind.key == "gas_detector" and fan is not None:
                out.append(
                    PlannedDevice(
                        f"{fan.key}:{site.ident}", fan.key, site, f"{fan.name} {site.name}"
                    )
                )
    return out


def load_sites(*, session: Session, categories: Sequence[str], district: str | None) -> list[Site]:
    q = select(
        Component.id,
        Component.ident,
        Component.name,
        Component.category_code,
        Component.district_code,
        Component.lat,
        Component.lng,
    ).where(Component.category_code.in_(sorted(set(categories))))
    if district:
        q = q.where(Component.ident.startswith(district))
    return [Site(*row) for row in session.execute(q)]


def _by_key(session: Session, model: type[Sensor] | type[ObservedProperty], key: str) -> Any:
    rows: list[Any] = list(session.scalars(select(model)).all())
    return {(r.properties or {}).get(key): r for r in rows if (r.properties or {}).get(key)}


def _catalogue(session: Session, kinds: Mapping[str, DeviceKind]) -> tuple[Any, Any]:
    """One Sensor per kind and one ObservedProperty per property key (created when missing)."""
    sensors = _by_key(session, Sensor, "sim_kind")
    props = _by_key(session, ObservedProperty, "sim_property")
    for kind in kinds.values():
        if kind.key not in sensors:
            sensors[kind.key] = entities.create(
                session=session,
                model=Sensor,
                values={
                    "name": f"cityops-sim {kind.name}",
                    "description": f"simulated {kind.key}",
                    "encoding_type": "text/plain",
                    "sensor_metadata": "cityops device simulator",
                    "properties": {"sim_kind": kind.key},
                },
            )
        for p in kind.properties:
            if p.key not in props:
                props[p.key] = entities.create(
                    session=session,
                    model=ObservedProperty,
                    values={
                        "name": p.name,
                        "definition": p.definition,
                        "description": f"{p.name} ({p.symbol})",
                        "properties": {"sim_property": p.key},
                    },
                )
    return sensors, props


def existing_things(*, session: Session) -> dict[str, Thing]:
    """Simulated Things by device key."""
    out: dict[str, Thing] = {}
    for thing in session.scalars(select(Thing).where(Thing.properties.is_not(None))):
        sim = (thing.properties or {}).get("sim")
        if isinstance(sim, dict) and sim.get("key"):
            out[str(sim["key"])] = thing
    return out


def _streams_of(session: Session, thing_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    ids = list(thing_ids)
    for i in range(0, len(ids), 5000):
        for ds_id, thing_id, props in session.execute(
            select(Datastream.id, Datastream.thing_id, Datastream.properties).where(
                Datastream.thing_id.in_(ids[i : i + 5000])
            )
        ):
            key = (props or {}).get("sim_property")
            if key:
                out.setdefault(thing_id, {})[key] = ds_id
    return out


def provision(
    *,
    session: Session,
    count: int,
    clock: Clock,
    seed: int = 7,
    district: str | None = None,
    kinds: Mapping[str, DeviceKind] | None = None,
) -> ProvisionResult:
    """Create what is missing for ``plan_devices`` (see the module docstring); return the fleet."""
    kinds = dict(kinds if kinds is not None else load_kinds().kinds)
    cats = [c for k in kinds.values() for c in k.categories]
    plan = plan_devices(
        sites=load_sites(session=session, categories=cats, district=district),
        count=count,
        kinds=kinds,
        seed=seed,
    )
    sensors, props = _catalogue(session, kinds)
    things = existing_things(session=session)
    new = [p for p in plan if p.key not in things]
    now = clock.now()
    made: list[tuple[PlannedDevice, Thing, Location]] = []
    for p in new:
        thing = Thing(
            name=p.name[:200],
            description=f"simulated {p.kind} on 部件 {p.site.ident}",
            properties={"sim": {"key": p.key, "kind": p.kind, "site": p.site.ident,
                                "tags": list(p.tags)},
                        **({"role": kinds[p.kind].role} if kinds[p.kind].role else {})},
            component_id=p.site.id,
            is_actuator=kinds[p.kind].actuator,
        )  # fmt: skip
        point = {"type": "Point", "coordinates": [p.site.lng, p.site.lat]}
        loc = Location(name=p.site.name, location=json.dumps(point), lat=p.site.lat, lng=p.site.lng)
        made.append((p, thing, loc))
    session.add_all([x for _, t, loc in made for x in (t, loc)])
    session.flush()
    hist = [HistoricalLocation(thing_id=t.id, time=now) for _, t, _ in made]
    session.add_all(hist)
    session.add_all(ThingLocation(thing_id=t.id, location_id=loc.id) for _, t, loc in made)
    for (p, t, _), _h in zip(made, hist, strict=True):
        things[p.key] = t
        if t.is_actuator:
            t.command_topic = COMMAND_TOPIC.format(id=t.id)
    session.flush()
    session.add_all(
        HistoricalLocationLocation(historical_location_id=h.id, location_id=loc.id)
        for (_, _, loc), h in zip(made, hist, strict=True)
    )
    planned = {p.key: p for p in plan}
    have = _streams_of(session, [things[p.key].id for p in plan])
    streams: list[Datastream] = []
    for p in plan:
        thing = things[p.key]
        for prop in kinds[p.kind].properties:
            if prop.key in have.get(thing.id, {}):
                continue
            streams.append(
                Datastream(
                    name=f"{thing.name} {prop.name}"[:200],
                    description=f"{prop.name} of {p.key}",
                    unit_of_measurement=prop.unit(),
                    observation_type=ObservationType.measurement.value,
                    thing_id=thing.id,
                    sensor_id=sensors[p.kind].id,
                    observed_property_id=props[prop.key].id,
                    properties={"sim_property": prop.key},
                    lat=p.site.lat,
                    lng=p.site.lng,
                )
            )
    session.add_all(streams)
    session.flush()
    if streams or made:
        service.bump_catalogue(session=session)
    return ProvisionResult(
        devices=[d for d in load_devices(session=session) if d.key in planned],
        created_things=len(made),
        created_datastreams=len(streams),
    )


def load_devices(*, session: Session) -> list[Device]:
    """Every provisioned simulated device, with its datastreams (in thing id order)."""
    things = sorted(existing_things(session=session).values(), key=lambda t: t.id)
    streams = _streams_of(session, [t.id for t in things])
    out = []
    for t in things:
        sim = (t.properties or {})["sim"]
        out.append(
            Device(
                key=sim["key"],
                kind=sim["kind"],
                site=sim["site"],
                datastreams=streams.get(t.id, {}),
                thing_id=t.id,
                tags=tuple(sim.get("tags") or ()),
            )
        )
    return out

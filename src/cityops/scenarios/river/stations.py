"""Automatic water-quality stations (水质自动监测站) on the river sections, as sensing Things.

What a station measures and the physical range of each reading come from ``data/stations.yaml``
(the GB 3838 items take their range from ``gb3838.yaml``). Each item is one sensing
ObservedProperty, named by its key and carrying ``valid_range``, so the sensing door rejects an
impossible reading (pH 15, a negative concentration) as ``out_of_range`` and keeps the rest of
its batch.

``plan_stations`` (pure) places them: a river's stations are spread over its sections (each
section gets its share, the longer sections any extra), evenly along a section with a seeded
jitter, and ``km`` is the distance from the river's upstream end along its sections (a gap
between two sections is bridged straight). ``ensure_stations`` writes what is missing in the
caller's transaction, the way the device simulator provisions its fleet: the sensor and the
observed properties through ``sensing.entities``, the per-station Things, Locations and
Datastreams in bulk with the derived fields ``entities`` keeps, then one catalogue bump.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from shapely.geometry import LineString, shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import Clock, SystemClock
from cityops.geo.coords import haversine_m
from cityops.scenarios.river.models import River, Section, Station
from cityops.scenarios.river.network import length_km
from cityops.scenarios.river.standards import STANDARD
from cityops.sensing import entities, service
from cityops.sensing.catalogue import VALID_RANGE
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

Named = TypeVar("Named", Sensor, ObservedProperty)
STATIONS_FILE = Path(__file__).parent / "data" / "stations.yaml"
SENSOR_NAME = "水质自动监测站 多参数分析仪"
_Frozen = ConfigDict(frozen=True, extra="forbid")


class StationItem(BaseModel):
    """One quantity a station measures; its range is the GB item's, or its own min/max."""

    model_config = _Frozen

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    unit: str
    gb: str | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check(self) -> StationItem:
        if self.gb is not None:
            if self.gb not in STANDARD.items:
                raise ValueError(f"{self.key}: {self.gb!r} is not a GB 3838 item")
            if self.min is not None or self.max is not None:
                raise ValueError(f"{self.key}: a GB item takes its range from gb3838.yaml")
        elif self.min is None or self.max is None or self.min >= self.max:
            raise ValueError(f"{self.key}: give min < max (or a GB item)")
        return self

    @property
    def range(self) -> tuple[float, float]:
        if self.gb is not None:
            spec = STANDARD.items[self.gb]
            return spec.min, spec.max
        assert self.min is not None and self.max is not None
        return self.min, self.max


class Placement(BaseModel):
    model_config = _Frozen

    per_section: int = Field(ge=1)
    per_section_by_river: dict[str, int] = Field(default_factory=dict)


class StationPlan(BaseModel):
    model_config = _Frozen

    items: dict[str, StationItem]
    placement: Placement


def load(path: Path = STATIONS_FILE) -> StationPlan:
    """Parse and check the station table; raises ValueError naming the bad entry."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = {k: {"key": k, **v} for k, v in doc["items"].items()}
    return StationPlan.model_validate({**doc, "items": items})


@cache
def station_plan() -> StationPlan:
    return load()


PLAN = station_plan()  # checked on import
ITEMS: tuple[str, ...] = tuple(PLAN.items)
GB_ITEMS: tuple[str, ...] = tuple(k for k, v in PLAN.items.items() if v.gb is not None)


@dataclass(frozen=True, slots=True)
class SectionLine:
    code: str
    name: str
    river_code: str
    line: LineString


@dataclass(frozen=True, slots=True)
class PlannedStation:
    code: str
    name: str
    section_code: str
    lat: float
    lng: float
    km: float


def _rng(seed: int, code: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:station:{code}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _shares(lengths: Sequence[float], n: int) -> list[int]:
    """Stations per section: n over m sections, each its share and the longest the extra; with
    fewer stations than sections, every (m/n)-th section, evenly."""
    m = len(lengths)
    if n <= 0 or m == 0:
        return [0] * m
    if n < m:
        picked = {min(m - 1, int((j + 0.5) * m / n)) for j in range(n)}
        return [1 if i in picked else 0 for i in range(m)]
    out = [n // m] * m
    for i in sorted(range(m), key=lambda i: (-lengths[i], i))[: n % m]:
        out[i] += 1
    return out


def plan_stations(
    *, sections: Sequence[SectionLine], per_river: Mapping[str, int], seed: int
) -> list[PlannedStation]:
    """Stations for every river in ``per_river`` (its total), downstream order within each."""
    by_river: dict[str, list[SectionLine]] = {}
    for s in sorted(sections, key=lambda s: s.code):
        by_river.setdefault(s.river_code, []).append(s)
    out: list[PlannedStation] = []
    for river, secs in sorted(by_river.items()):
        lengths = [length_km(s.line) for s in secs]
        offset = 0.0
        shares = _shares(lengths, per_river.get(river, 0))
        for i, (sec, count) in enumerate(zip(secs, shares, strict=True)):
            if i > 0:  # bridge the gap from the previous section's end
                (x0, y0), (x1, y1) = secs[i - 1].line.coords[-1], sec.line.coords[0]
                offset += lengths[i - 1] + haversine_m(x0, y0, x1, y1) / 1000.0
            rng = _rng(seed, sec.code)
            for j in range(count):
                at = (j + 0.5 + float(rng.uniform(-0.25, 0.25))) / count
                point = sec.line.interpolate(at, normalized=True)
                label = "" if count == 1 else f"{j + 1}号"
                out.append(
                    PlannedStation(
                        code=f"{sec.code}-S{j + 1}",
                        name=f"{sec.name}{label}水质自动站",
                        section_code=sec.code,
                        lat=round(point.y, 6),
                        lng=round(point.x, 6),
                        km=round(offset + at * lengths[i], 3),
                    )
                )
    return out


def default_counts(
    sections: Sequence[SectionLine], placement: Placement = PLAN.placement
) -> dict[str, int]:
    """Each river's total by the placement table: its per-section number × its sections."""
    counts: dict[str, int] = {}
    for s in sections:
        per = placement.per_section_by_river.get(s.river_code, placement.per_section)
        counts[s.river_code] = counts.get(s.river_code, 0) + per
    return counts


def section_lines(*, session: Session) -> tuple[list[SectionLine], dict[str, int]]:
    """Every stored section's line (code order) and section ids by code."""
    rows = session.execute(
        select(Section.id, Section.code, Section.name, Section.geometry, River.code)
        .join(River, Section.river_id == River.id)
        .order_by(Section.code)
    ).all()
    lines = [SectionLine(r[1], r[2], r[4], shape(json.loads(r[3]))) for r in rows]
    return lines, {r[1]: r[0] for r in rows}


def _find_or_create(session: Session, model: type[Named], values: dict[str, Any]) -> Named:
    """The first row of that name, its properties brought up to ``values``'; else a new one."""
    row = session.scalars(
        select(model).where(model.name == values["name"]).order_by(model.id).limit(1)
    ).first()
    if row is None:
        return entities.create(session=session, model=model, values=values)
    props = dict(row.properties or {})
    wanted = {**props, **values.get("properties", {})}
    if props != wanted:  # a changed range in the YAML reaches the door (the catalogue moves)
        change = {"properties": wanted}
        return entities.update_(session=session, model=model, id=row.id, values=change)
    return row


def observed_properties(*, session: Session) -> dict[str, ObservedProperty]:
    """The stations' observed properties by item key, made (or given their range) when needed."""
    out: dict[str, ObservedProperty] = {}
    for key, item in PLAN.items.items():
        lo, hi = item.range
        out[key] = _find_or_create(
            session,
            ObservedProperty,
            {
                "name": key,
                "definition": f"cityops:river:{key}",
                "description": f"{item.name} ({item.unit})",
                "properties": {"code": key, "unit": item.unit, VALID_RANGE: [lo, hi]},
            },
        )
    return out


def _things(session: Session, planned: Sequence[PlannedStation], clock: Clock) -> list[Thing]:
    """A Thing at a Location for each planned station (bulk, as ``entities`` would)."""
    made: list[tuple[Thing, Location]] = []
    for p in planned:
        thing = Thing(
            name=p.name[:200],
            description=f"水质自动监测站 {p.code}",
            properties={"river_station": p.code, "section": p.section_code},
        )
        point = {"type": "Point", "coordinates": [p.lng, p.lat]}
        loc = Location(name=p.name[:200], location=json.dumps(point), lat=p.lat, lng=p.lng)
        made.append((thing, loc))
    session.add_all([x for pair in made for x in pair])
    session.flush()
    hist = [HistoricalLocation(thing_id=t.id, time=clock.now()) for t, _ in made]
    session.add_all(hist)
    session.add_all(ThingLocation(thing_id=t.id, location_id=loc.id) for t, loc in made)
    session.flush()
    session.add_all(
        HistoricalLocationLocation(historical_location_id=h.id, location_id=loc.id)
        for (_, loc), h in zip(made, hist, strict=True)
    )
    return [t for t, _ in made]


def _datastreams(
    session: Session, stations: Sequence[Station], props: Mapping[str, ObservedProperty]
) -> int:
    """Add each station's missing datastreams (one per item), positioned at the station."""
    if not stations:
        return 0
    sensor = _find_or_create(
        session,
        Sensor,
        {
            "name": SENSOR_NAME,
            "description": "水质自动监测站的多参数水质分析仪",
            "encoding_type": "text/plain",
            "properties": {"river_station_sensor": True},
        },
    )
    have = set(
        session.execute(
            select(Datastream.thing_id, Datastream.observed_property_id).where(
                Datastream.thing_id.in_([s.thing_id for s in stations])
            )
        )
    )
    streams = [
        Datastream(
            name=f"{st.name} {item.name}"[:200],
            description=f"{item.name} at {st.code}",
            unit_of_measurement={"name": item.unit, "symbol": item.unit, "definition": ""},
            observation_type=ObservationType.measurement.value,
            thing_id=st.thing_id,
            sensor_id=sensor.id,
            observed_property_id=props[key].id,
            properties={"river_station": st.code, "item": key},
            lat=st.lat,
            lng=st.lng,
        )
        for st, (key, item) in itertools.product(stations, PLAN.items.items())
        if (st.thing_id, props[key].id) not in have
    ]
    session.add_all(streams)
    session.flush()
    return len(streams)


def ensure_stations(
    *,
    session: Session,
    seed: int,
    per_river: dict[str, int] | None = None,
    clock: Clock | None = None,
) -> int:
    """Create the stations (and datastreams) the plan wants and the database lacks; returns the
    number of stations created. ``per_river``: a river's total, instead of the placement table's.
    """
    lines, section_ids = section_lines(session=session)
    counts = {**default_counts(lines), **(per_river or {})}
    planned = plan_stations(sections=lines, per_river=counts, seed=seed)
    existing = {s.code: s for s in session.scalars(select(Station))}
    new = [p for p in planned if p.code not in existing]
    props = observed_properties(session=session)
    things = _things(session, new, clock or SystemClock()) if new else []
    for p, thing in zip(new, things, strict=True):
        existing[p.code] = Station(
            code=p.code, name=p.name, section_id=section_ids[p.section_code], thing_id=thing.id,
            lat=p.lat, lng=p.lng, km=p.km, active=True,
        )  # fmt: skip
        session.add(existing[p.code])
    session.flush()
    added = _datastreams(session, list(existing.values()), props)
    if new or added:
        service.bump_catalogue(session=session)
    return len(new)


def station_for_thing(*, session: Session, thing_id: int) -> Station | None:
    """The station a sensing Thing is, if it is one."""
    return session.scalars(select(Station).where(Station.thing_id == thing_id)).first()


def station_streams(*, session: Session, station_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Station id → item key → datastream id (the stations' own observed properties only)."""
    out: dict[int, dict[str, int]] = {i: {} for i in station_ids}
    if not station_ids:
        return out
    rows = session.execute(
        select(Station.id, ObservedProperty.name, Datastream.id)
        .join(Datastream, Datastream.thing_id == Station.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(Station.id.in_(list(station_ids)), ObservedProperty.name.in_(ITEMS))
        .order_by(Datastream.id)
    )
    for station_id, key, ds_id in rows:
        out[station_id].setdefault(key, ds_id)
    return out

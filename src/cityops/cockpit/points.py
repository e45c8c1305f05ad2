"""The map's point layers as columns, for canvas rendering of up to 200,000 points at once.

The answer is a handful of flat arrays (``{"id": [...], "lat": [...], ...}``) rather than
100,000 objects: about a third of the bytes, and the browser draws from the arrays as they are.
The database writes each array itself (``json_group_array`` on SQLite, ``array_agg`` →
``array_to_json`` on PostgreSQL) over one column-only SELECT in id order, coordinates rounded
to 6 decimals (~0.1 m). Fetching the rows into Python and encoding them there cost about three
times as much on SQLite (100,000 部件, one loaded machine: rows, transposing, rounding and
``json.dumps`` each cost about as much as the query itself).

Who sees what is each domain's rule: 部件 for staff (not residents), devices for roles that
may read sensing data, alarms for roles that may read alarms, each limited to the caller's
jurisdiction; cases as the case list scopes them (a resident sees his own reports, a field
worker the cases assigned to him).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    Text,
    case,
    cast,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import InstrumentedAttribute, Session

from cityops.auth.models import Role
from cityops.auth.policy import RulesAction, SensingAction, require_rules_action, require_sensing
from cityops.auth.scope import Principal
from cityops.cases import queries
from cityops.cases.lifecycle import OPEN_STATES
from cityops.cases.models import Case
from cityops.cockpit import service
from cityops.errors import Forbidden
from cityops.registry.components import component_scope
from cityops.registry.models import Component
from cityops.rules.alarms import AlarmState
from cityops.rules.models import Alarm
from cityops.sensing.models import Datastream, DatastreamLatest, Location, Thing, ThingLocation

DEFAULT_LIMIT = 100_000
MAX_LIMIT = 200_000
FIELDS = ("id", "lat", "lng", "state", "kind")
OFFLINE_AFTER = timedelta(hours=1)  # a device with no reading for this long shows ``offline``
CHUNK = 5_000  # ids per IN list

BBox = tuple[float, float, float, float]  # min_lng, min_lat, max_lng, max_lat
Query = (
    Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]]
)  # (id, lat, lng, state, kind, order key)


class Layer(enum.StrEnum):
    components = "components"  # 部件
    devices = "devices"  # sensing Things with a Location
    cases = "cases"  # open cases
    alarms = "alarms"  # active alarms


@dataclass(frozen=True, slots=True)
class Area:
    """Where to look: a jurisdiction-code prefix (None: the caller's whole scope) and a box."""

    prefix: str | None = None
    bbox: BBox | None = None


def _within(user: Principal, prefix: str | None) -> str | None:
    """The narrower of the caller's scope and the asked prefix; ``-`` matches nothing."""
    if prefix is not None or user.is_city_wide:
        return prefix
    return user.scope_code or "-"


def _in_box(
    lat: InstrumentedAttribute[Any], lng: InstrumentedAttribute[Any], bbox: BBox | None
) -> list[ColumnElement[bool]]:
    if bbox is None:
        return []
    return [lng.between(bbox[0], bbox[2]), lat.between(bbox[1], bbox[3])]


def _chunks(ids: Collection[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), CHUNK):
        yield ordered[i : i + CHUNK]


# ---- the layers read in SQL: each a SELECT of (id, lat, lng, state, kind, order key) ---------


def _components(session: Session, user: Principal, area: Area, now: datetime) -> Query:
    del session, now
    if user.role in (Role.resident, Role.device):
        raise Forbidden(f"role {user.role.value} may not read the registry", code="role_forbidden")
    stmt = select(
        Component.ident, Component.lat, Component.lng,
        type_coerce(Component.state, String), Component.category_code, Component.id,
    ).where(*_in_box(Component.lat, Component.lng, area.bbox))  # fmt: skip
    if (within := _within(user, area.prefix)) is not None:
        stmt = stmt.where(component_scope(within))
    return stmt


def _devices(session: Session, user: Principal, area: Area, now: datetime) -> Query:
    """Things with a Location: ``alarm`` (an active alarm), else by their newest reading."""
    require_sensing(user, SensingAction.read)
    within = _within(user, area.prefix)
    alarmed = sorted(_alarmed_things(session, within))
    first = _first_locations()
    at = func.max(DatastreamLatest.phenomenon_time).label("at")
    newest = (
        select(Datastream.thing_id, at)
        .join(DatastreamLatest, DatastreamLatest.datastream_id == Datastream.id)
        .group_by(Datastream.thing_id)
        .subquery()
    )
    state = case(
        (Thing.id.in_(alarmed), literal("alarm")),
        (newest.c.at.is_(None), literal("no_data")),
        (newest.c.at >= now - OFFLINE_AFTER, literal("online")),
        else_=literal("offline"),
    )
    kind = case((Thing.is_actuator.is_(True), literal("actuator")), else_=literal("sensor"))
    stmt = (
        select(Thing.id, Location.lat, Location.lng, state, kind, Thing.id.label("ord"))
        .join(first, first.c.thing_id == Thing.id)
        .join(Location, Location.id == first.c.location_id)
        .outerjoin(newest, newest.c.thing_id == Thing.id)
        .where(
            Location.lat.is_not(None),
            Location.lng.is_not(None),
            *_in_box(Location.lat, Location.lng, area.bbox),
        )
    )
    if within is not None:
        stmt = stmt.join(Component, Component.id == Thing.component_id).where(
            component_scope(within)
        )
    return stmt


def _cases(session: Session, user: Principal, area: Area, now: datetime) -> Query:
    """Open cases, one index seek per status (see ``service.by_status``)."""
    del now
    code = area.prefix or (None if user.is_city_wide else user.scope_code)
    streets = service.streets_of(session, code) if code and len(code) == 6 else []
    status = type_coerce(Case.status, String)
    stmt = select(
        Case.id, Case.lat, Case.lng, status, Case.category_code, Case.id.label("ord")
    ).where(*service.street_led(code, streets), *_in_box(Case.lat, Case.lng, area.bbox))
    return service.by_status(queries.scoped(stmt, user), OPEN_STATES)


def _round6(value: Any) -> Any:
    """To 6 decimals. Not ``round(x, 6)``: SQLite formats every number as text for it, which
    cost more than the rest of the query (100,000 points: 110 of 190 ms); ``round(x)`` of a
    non-negative number is its fast path. PostgreSQL has no ``round(double, int)`` at all."""
    return func.round(value * 1_000_000) / 1_000_000.0


def _json_columns(session: Session, stmt: Query, limit: int) -> tuple[int, list[str]]:
    """(rows, each of the first five columns as JSON array text) of ``stmt``'s first rows.

    The last column of ``stmt`` is the order key. SQLite aggregates the rows of a LIMIT
    subquery in the subquery's order; PostgreSQL is told the order.
    """
    inner = list(stmt.subquery().c)
    sub = select(*inner).order_by(inner[5]).limit(limit).subquery()
    pg = session.get_bind().dialect.name == "postgresql"
    arrays: list[ColumnElement[Any]] = []
    for i, column in enumerate(list(sub.c)[:5]):
        value = _round6(column) if i in (1, 2) else column
        if pg:  # array_to_json writes no spaces, json_agg does
            agg = func.array_to_json(func.array_agg(aggregate_order_by(value, list(sub.c)[5])))
            arrays.append(func.coalesce(cast(agg, Text), "[]"))
        else:
            arrays.append(func.json_group_array(value))
    row = session.execute(select(func.count(), *arrays).select_from(sub)).one()
    return int(row[0]), [str(a) for a in row[1:]]


def _arrays(session: Session, stmt: Query, limit: int) -> tuple[int, bool, list[str]]:
    """(count, truncated, arrays): one row past the limit is asked for; if it came, the
    arrays are built again without it (cheaper than numbering every row in every answer)."""
    count, arrays = _json_columns(session, stmt, limit + 1)
    if count <= limit:
        return count, False, arrays
    return limit, True, _json_columns(session, stmt, limit)[1]


# ---- alarms: few, placed in Python at their datastream, Thing or case ------------------------


def _first_locations() -> Any:
    """Each Thing's first Location (the one its datastreams are placed at, see entities)."""
    return (
        select(ThingLocation.thing_id, func.min(ThingLocation.location_id).label("location_id"))
        .group_by(ThingLocation.thing_id)
        .subquery()
    )


def _active_alarms(session: Session, within: str | None) -> list[Sequence[Any]]:
    stmt = select(Alarm.id, Alarm.severity, Alarm.plan_id, Alarm.instance, Alarm.case_id).where(
        Alarm.state == AlarmState.active.value
    )
    if within is not None:
        stmt = stmt.where(Alarm.jurisdiction_code.startswith(within))
    return list(session.execute(stmt.order_by(Alarm.id)).all())


def _source_id(instance: str, prefix: str) -> int | None:
    """The id in an alarm's source key: ``ds:17`` (a datastream), ``thing:3`` (a Thing)."""
    rest = instance.removeprefix(prefix)
    return int(rest) if rest != instance and rest.isdigit() else None


def _alarmed_things(session: Session, within: str | None) -> set[int]:
    alarms = _active_alarms(session, within)
    things = {t for a in alarms if (t := _source_id(a[3], "thing:")) is not None}
    streams = {d for a in alarms if (d := _source_id(a[3], "ds:")) is not None}
    for chunk in _chunks(streams):
        things.update(
            session.execute(select(Datastream.thing_id).where(Datastream.id.in_(chunk))).scalars()
        )
    return things


def _positions(
    session: Session, key: Any, lat: Any, lng: Any, ids: Collection[int], *joins: Any
) -> dict[int, tuple[float, float]]:
    out: dict[int, tuple[float, float]] = {}
    for chunk in _chunks(ids):
        stmt = select(key, lat, lng)
        for target, on in joins:
            stmt = stmt.join(target, on)
        rows = session.execute(stmt.where(key.in_(chunk), lat.is_not(None), lng.is_not(None)))
        out.update({k: (y, x) for k, y, x in rows})
    return out


def _alarms(
    session: Session, user: Principal, area: Area, limit: int
) -> tuple[int, bool, list[str]]:
    """Active alarms placed at their datastream, their Thing, else their case."""
    require_rules_action(user, RulesAction.read_alarms)
    alarms = _active_alarms(session, _within(user, area.prefix))
    streams = {d for a in alarms if (d := _source_id(a[3], "ds:")) is not None}
    things = {t for a in alarms if (t := _source_id(a[3], "thing:")) is not None}
    first = _first_locations()
    at_stream = _positions(session, Datastream.id, Datastream.lat, Datastream.lng, streams)
    at_thing = _positions(
        session, first.c.thing_id, Location.lat, Location.lng, things,
        (Location, Location.id == first.c.location_id),
    )  # fmt: skip
    at_case = _positions(
        session, Case.id, Case.lat, Case.lng, {a[4] for a in alarms if a[4] is not None}
    )
    rows: list[tuple[int, float, float, str, str]] = []
    for ident, severity, plan, instance, case_id in alarms:
        d, t = _source_id(instance, "ds:"), _source_id(instance, "thing:")
        where = (
            (at_stream.get(d) if d is not None else None)
            or (at_thing.get(t) if t is not None else None)
            or (at_case.get(case_id) if case_id is not None else None)
        )
        if where is not None and _boxed(where, area.bbox):
            rows.append((ident, round(where[0], 6), round(where[1], 6), severity, plan))
    columns = [list(c) for c in zip(*rows[:limit], strict=True)] or [[] for _ in FIELDS]
    arrays = [json.dumps(c, separators=(",", ":"), ensure_ascii=False) for c in columns]
    return min(len(rows), limit), len(rows) > limit, arrays


def _boxed(where: tuple[float, float], bbox: BBox | None) -> bool:
    return bbox is None or (bbox[0] <= where[1] <= bbox[2] and bbox[1] <= where[0] <= bbox[3])


IN_SQL = {Layer.components: _components, Layer.devices: _devices, Layer.cases: _cases}


def points(
    *, session: Session, user: Principal, layer: Layer, area: Area, limit: int, now: datetime
) -> bytes:
    """The layer's points in the area as JSON (``PointsRead``), at most ``limit`` of them."""
    if layer is Layer.alarms:
        count, truncated, arrays = _alarms(session, user, area, limit)
    else:
        count, truncated, arrays = _arrays(session, IN_SQL[layer](session, user, area, now), limit)
    head = json.dumps(
        {"layer": layer.value, "count": count, "truncated": truncated, "fields": list(FIELDS)},
        separators=(",", ":"),
    )
    body = "".join(f',"{name}":{array}' for name, array in zip(FIELDS, arrays, strict=True))
    return (head[:-1] + body + "}").encode()

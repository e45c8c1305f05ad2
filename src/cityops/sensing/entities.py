"""Generic create/read/update/delete of SensorThings entities (called by both API doors).

Besides plain column writes it keeps the derived data straight: a Location's lat/lng come from
its GeoJSON, a Datastream's lat/lng from its Thing's location, a Thing's new locations are kept
as a HistoricalLocation, and deleting a Datastream (or its Thing) deletes its observations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import delete, inspect, select, update
from sqlalchemy.orm import Session

from cityops.clock import Clock
from cityops.errors import NotFound, ValidationFailed
from cityops.registry.models import Component
from cityops.sensing import aggregates, catalogue, recent, timeseries
from cityops.sensing.models import (
    ActuatorCommand,
    Datastream,
    DatastreamLatest,
    FeatureOfInterest,
    HistoricalLocation,
    HistoricalLocationLocation,
    Location,
    ObsAgg1h,
    ObsAgg1m,
    Observation,
    ObservedProperty,
    Sensor,
    Thing,
    ThingLocation,
)
from cityops.store.base import Base
from cityops.store.engine import raw_cursor

T = TypeVar("T", bound=Base)

ENTITIES: dict[str, type[Base]] = {
    "Thing": Thing,
    "Location": Location,
    "HistoricalLocation": HistoricalLocation,
    "Sensor": Sensor,
    "ObservedProperty": ObservedProperty,
    "Datastream": Datastream,
    "FeatureOfInterest": FeatureOfInterest,
    # Single observations (STA POST/PATCH/DELETE); batches go through service.ingest. A changed
    # or deleted reading is not taken out of the 1m/1h aggregates already folded.
    "Observation": Observation,
}
_DERIVED = {"latest_result", "latest_result_json", "latest_phenomenon_time"}


def point_of(geojson: str | Mapping[str, Any]) -> tuple[float, float] | None:
    """(lat, lng) of a GeoJSON Point, or the middle of any other geometry's coordinates."""
    try:
        obj = json.loads(geojson) if isinstance(geojson, str) else dict(geojson)
    except (ValueError, TypeError):
        raise ValidationFailed("location is not GeoJSON", code="bad_geojson") from None
    if obj.get("type") == "Feature":
        obj = obj.get("geometry") or {}
    coords: list[tuple[float, float]] = []

    def walk(c: Any) -> None:
        if (
            isinstance(c, list | tuple)
            and len(c) >= 2
            and all(isinstance(x, int | float) for x in c[:2])
        ):
            coords.append((float(c[0]), float(c[1])))
        elif isinstance(c, list | tuple):
            for item in c:
                walk(item)

    walk(obj.get("coordinates"))
    if not coords:
        return None
    lngs = [c[0] for c in coords]
    lats = [c[1] for c in coords]
    return (min(lats) + max(lats)) / 2, (min(lngs) + max(lngs)) / 2


def _columns(model: type[Base]) -> set[str]:
    return {a.key for a in inspect(model).column_attrs}


def _clean(model: type[Base], values: Mapping[str, Any]) -> dict[str, Any]:
    allowed = _columns(model) - {"id"} - _DERIVED
    unknown = set(values) - allowed
    if unknown:
        raise ValidationFailed(
            f"{model.__name__} has no field(s) {', '.join(sorted(unknown))}", code="unknown_field"
        )
    out = dict(values)
    if model is Location and "location" in out:
        loc = out["location"]
        out["location"] = loc if isinstance(loc, str) else json.dumps(loc)
        point = point_of(out["location"])
        out["lat"], out["lng"] = point if point else (None, None)
    if model is FeatureOfInterest and "feature" in out and not isinstance(out["feature"], str):
        out["feature"] = json.dumps(out["feature"])
    return out


def _require(session: Session, model: type[Base], ident: Any, field: str) -> None:
    if ident is not None and session.get(model, ident) is None:
        raise ValidationFailed(f"{field} {ident} does not exist", code="unknown_reference")


def _check_refs(session: Session, model: type[Base], values: Mapping[str, Any]) -> None:
    if model is Datastream:
        _require(session, Thing, values.get("thing_id"), "thing_id")
        _require(session, Sensor, values.get("sensor_id"), "sensor_id")
        _require(
            session, ObservedProperty, values.get("observed_property_id"), "observed_property_id"
        )
    if model is Thing:
        _require(session, Component, values.get("component_id"), "component_id")
    if model is HistoricalLocation:
        _require(session, Thing, values.get("thing_id"), "thing_id")


# What the intake validates against and the rules bind to: a change moves the catalogue token,
# so the intake reloads its cache and a running engine binds its plans again.
_BINDING = (Datastream, Thing, ObservedProperty)


def create(*, session: Session, model: type[T], values: Mapping[str, Any]) -> T:
    """Insert one entity from its column values."""
    clean = _clean(model, values)
    _check_refs(session, model, clean)
    if model is Observation:
        _prepare_observation(session, clean)
        if recent.used(session):  # one id sequence, and the key's watermark past it
            clean = {**clean, "id": recent.take_ids(raw_cursor(session), 1) + 1}
            recent.cover(session, clean["phenomenon_time"])
    try:
        row = model(**clean)
    except TypeError as exc:  # pragma: no cover - _clean filters names
        raise ValidationFailed(str(exc)) from None
    session.add(row)
    session.flush()
    if isinstance(row, Datastream):
        _position_datastreams(session, row.thing_id)
    if isinstance(row, _BINDING):
        catalogue.bump_catalogue(session=session)
    return row


def get(*, session: Session, model: type[T], id: int) -> T:
    """One entity by id, or NotFound (an observation from either readings' table)."""
    row: Any
    if model is Observation:
        found = session.scalars(select(recent.READ_MODEL).where(recent.READ_MODEL.id == id))
        row = found.first()
    else:
        row = session.get(model, id)
    if row is None:
        raise NotFound(f"no {model.__name__} {id}", code=f"{model.__name__.lower()}_not_found")
    return cast(T, row)


def list_(*, session: Session, model: type[T], offset: int = 0, limit: int = 100) -> Sequence[T]:
    """A page of entities in id order."""
    pk = inspect(model).primary_key[0]
    return session.scalars(select(model).order_by(pk).offset(offset).limit(limit)).all()


def update_(*, session: Session, model: type[T], id: int, values: Mapping[str, Any]) -> T:
    """Change some columns of one entity (PATCH)."""
    if model is Observation:
        recent.settle(session, [id])  # the ORM changes rows of ``observation``
    row = get(session=session, model=model, id=id)
    clean = _clean(model, values)
    _check_refs(session, model, clean)
    if isinstance(row, Observation) and "phenomenon_time" in clean:
        _prepare_observation(session, {"datastream_id": row.datastream_id, **clean})
    for key, value in clean.items():
        setattr(row, key, value)
    session.flush()
    if isinstance(row, Observation) and "phenomenon_time" in clean:
        recent.cover(session, clean["phenomenon_time"])
    if isinstance(row, Location):
        for thing_id in session.scalars(
            select(ThingLocation.thing_id).where(ThingLocation.location_id == row.id)
        ):
            _position_datastreams(session, thing_id)
    if isinstance(row, Datastream):
        _position_datastreams(session, row.thing_id)
    if isinstance(row, _BINDING):
        catalogue.bump_catalogue(session=session)
    return row


def delete_(*, session: Session, model: type[Base], id: int) -> None:
    """Delete one entity and what hangs off it (a Thing's datastreams, their observations)."""
    if model is Observation:
        recent.settle(session, [id])
    row = get(session=session, model=model, id=id)
    if isinstance(row, Thing):
        for ds_id in session.scalars(select(Datastream.id).where(Datastream.thing_id == id)).all():
            _delete_datastream_data(session, ds_id)
        session.execute(delete(Datastream).where(Datastream.thing_id == id))
        session.execute(delete(ThingLocation).where(ThingLocation.thing_id == id))
        session.execute(delete(ActuatorCommand).where(ActuatorCommand.thing_id == id))
        for hl in session.scalars(
            select(HistoricalLocation.id).where(HistoricalLocation.thing_id == id)
        ).all():
            session.execute(
                delete(HistoricalLocationLocation).where(
                    HistoricalLocationLocation.historical_location_id == hl
                )
            )
        session.execute(delete(HistoricalLocation).where(HistoricalLocation.thing_id == id))
    elif isinstance(row, Datastream):
        _delete_datastream_data(session, id)
    elif isinstance(row, Location):
        session.execute(delete(ThingLocation).where(ThingLocation.location_id == id))
        session.execute(
            delete(HistoricalLocationLocation).where(HistoricalLocationLocation.location_id == id)
        )
    elif isinstance(row, HistoricalLocation):
        session.execute(
            delete(HistoricalLocationLocation).where(
                HistoricalLocationLocation.historical_location_id == id
            )
        )
    elif isinstance(row, Sensor | ObservedProperty):
        col = Datastream.sensor_id if isinstance(row, Sensor) else Datastream.observed_property_id
        if session.scalar(select(Datastream.id).where(col == id).limit(1)) is not None:
            raise ValidationFailed(
                f"{model.__name__} {id} is used by a datastream", code="entity_in_use"
            )
    session.delete(row)
    session.flush()
    if isinstance(row, _BINDING):
        catalogue.bump_catalogue(session=session)


def _prepare_observation(session: Session, values: Mapping[str, Any]) -> None:
    """Check the datastream and time, and make the day's partition (PostgreSQL) exist."""
    _require(session, Datastream, values.get("datastream_id"), "datastream_id")
    when = values.get("phenomenon_time")
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise ValidationFailed("phenomenon_time must be an aware datetime", code="bad_time")
    timeseries.ensure_partitions(session, [when.astimezone(UTC).date()])


def _delete_datastream_data(session: Session, ds_id: int) -> None:
    aggregates.forget(session)  # open buckets of this datastream must not be written later
    session.execute(delete(DatastreamLatest).where(DatastreamLatest.datastream_id == ds_id))
    recent.delete_where(session, "datastream_id = :d", {"d": ds_id})
    session.execute(delete(ObsAgg1m).where(ObsAgg1m.datastream_id == ds_id))
    session.execute(delete(ObsAgg1h).where(ObsAgg1h.datastream_id == ds_id))


def set_thing_locations(
    *, session: Session, thing_id: int, location_ids: Sequence[int], clock: Clock
) -> HistoricalLocation:
    """Make these the Thing's current locations; record the move as a HistoricalLocation."""
    get(session=session, model=Thing, id=thing_id)
    for loc in location_ids:
        get(session=session, model=Location, id=loc)
    session.execute(delete(ThingLocation).where(ThingLocation.thing_id == thing_id))
    session.add_all(ThingLocation(thing_id=thing_id, location_id=loc) for loc in location_ids)
    hist = HistoricalLocation(thing_id=thing_id, time=clock.now())
    session.add(hist)
    session.flush()
    session.add_all(
        HistoricalLocationLocation(historical_location_id=hist.id, location_id=loc)
        for loc in location_ids
    )
    session.flush()
    _position_datastreams(session, thing_id)
    return hist


def _position_datastreams(session: Session, thing_id: int) -> None:
    """Copy the Thing's (first) location onto its datastreams, for bbox queries."""
    point = session.execute(
        select(Location.lat, Location.lng)
        .join(ThingLocation, ThingLocation.location_id == Location.id)
        .where(ThingLocation.thing_id == thing_id)
        .order_by(Location.id)
        .limit(1)
    ).first()
    lat, lng = (point[0], point[1]) if point else (None, None)
    if lat is None:
        comp = session.execute(
            select(Component.lat, Component.lng)
            .join(Thing, Thing.component_id == Component.id)
            .where(Thing.id == thing_id)
        ).first()
        lat, lng = (comp[0], comp[1]) if comp else (None, None)
    session.execute(
        update(Datastream).where(Datastream.thing_id == thing_id).values(lat=lat, lng=lng)
    )


@dataclass(frozen=True, slots=True)
class StreamState:
    """A datastream of a located Thing with its newest reading (None until one arrives)."""

    id: int
    name: str
    unit: str
    result: Any
    phenomenon_time: datetime | None


@dataclass(frozen=True, slots=True)
class LocatedThing:
    """A Thing at its (first) current Location, with its datastreams' latest values."""

    id: int
    name: str
    lat: float
    lng: float
    is_actuator: bool
    properties: dict[str, Any]
    datastreams: list[StreamState]


def things_in_bbox(
    *, session: Session, bbox: tuple[float, float, float, float], limit: int = 5000
) -> list[LocatedThing]:
    """Things whose Location lies in (min_lng, min_lat, max_lng, max_lat), in id order.

    Two indexed reads (locations by lat/lng, datastreams by thing) for maps of an area such as
    a community; the caller tests exact containment.
    """
    min_lng, min_lat, max_lng, max_lat = bbox
    rows = session.execute(
        select(
            Thing.id, Thing.name, Thing.is_actuator, Thing.properties, Location.lat, Location.lng
        )
        .join(ThingLocation, ThingLocation.thing_id == Thing.id)
        .join(Location, Location.id == ThingLocation.location_id)
        .where(Location.lat.between(min_lat, max_lat), Location.lng.between(min_lng, max_lng))
        .order_by(Thing.id, Location.id)
        .limit(limit)
    ).all()
    first: dict[int, Any] = {}
    for row in rows:
        first.setdefault(row.id, row)
    streams: dict[int, list[StreamState]] = {i: [] for i in first}
    if first:
        for ds in session.execute(
            select(Datastream).where(Datastream.thing_id.in_(list(first))).order_by(Datastream.id)
        ).scalars():
            unit = ds.unit_of_measurement or {}
            streams[ds.thing_id].append(
                StreamState(
                    ds.id,
                    ds.name,
                    str(unit.get("symbol") or unit.get("name") or ""),
                    ds.latest_result if ds.latest_result is not None else ds.latest_result_json,
                    ds.latest_phenomenon_time,
                )
            )
    return [
        LocatedThing(
            r.id, r.name, float(r.lat), float(r.lng), bool(r.is_actuator),
            dict(r.properties or {}), streams[r.id],
        )
        for r in first.values()
        if r.lat is not None and r.lng is not None
    ]  # fmt: skip

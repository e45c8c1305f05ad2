"""Creating, changing and deleting STA entities, with deep insert; observations go through intake.

An Observation posted here is validated, deduplicated and announced on the bus exactly like one
from ``POST /api/v1/observations`` or MQTT (``sensing.service.ingest``), so the rules engine
sees it. Posting the same (Datastream, phenomenonTime) twice answers the one stored observation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.clock import Clock
from cityops.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cityops.sensing import entities, recent, service, timeseries
from cityops.sensing.models import (
    Datastream,
    FeatureOfInterest,
    HistoricalLocationLocation,
    Location,
    Observation,
    ThingLocation,
)
from cityops.sensing.sta.schema import IGNORED, SETS, EntitySet, Link, Prop
from cityops.sensing.validate import MAX_ID
from cityops.settings import Settings

REQUIRED_LINKS: dict[str, tuple[str, ...]] = {
    "Datastreams": ("thing_id", "sensor_id", "observed_property_id"),
    "Observations": ("datastream_id",),
    "HistoricalLocations": ("thing_id",),
}
_STRING_KINDS = {"plain"}
_OBS = recent.READ_MODEL  # observations are read from both readings' tables


def parse_instant(value: Any, what: str) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise ValidationFailed(f"{what} must be an ISO 8601 time", code="bad_time")
    if "/" in value:
        raise ValidationFailed(f"{what}: time intervals are not supported", code="bad_time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            f"{what} is not an ISO 8601 time: {value!r}", code="bad_time"
        ) from None
    if parsed.tzinfo is None:
        raise ValidationFailed(f"{what} needs a zone (Z or +08:00)", code="bad_time")
    return parsed.astimezone(UTC)


def in_value(prop: Prop, value: Any) -> Any:
    if prop.kind == "time":
        return parse_instant(value, prop.name)
    if prop.kind == "json" and value is not None and not isinstance(value, dict):
        raise ValidationFailed(f"{prop.name} must be an object", code="wrong_type")
    if prop.kind == "geojson" and not isinstance(value, dict | str):
        raise ValidationFailed(f"{prop.name} must be GeoJSON", code="wrong_type")
    if prop.kind in _STRING_KINDS and not isinstance(value, str):
        raise ValidationFailed(f"{prop.name} must be a string", code="wrong_type")
    return value


class Writer:
    def __init__(
        self, session: Session, *, clock: Clock, settings: Settings, manage: bool = True
    ) -> None:
        self.session = session
        self.clock = clock
        self.settings = settings
        self.manage = manage  # False: may add observations (and their features), nothing else
        self._foi: dict[int, int | None] = {}  # datastream id -> its default FeatureOfInterest

    @contextmanager
    def guard(self) -> Iterator[None]:
        """One change in a savepoint: a unique or foreign-key clash is a 409, not a dead session."""
        try:
            with self.session.begin_nested():
                yield
        except IntegrityError:
            raise Conflict(
                "that would duplicate or orphan an entity (e.g. a second observation of the "
                "same Datastream at the same phenomenonTime)",
                code="conflict",
            ) from None

    # -- create --------------------------------------------------------------------------------
    def create(self, es: EntitySet, body: Any, *, back: tuple[str, int] | None = None) -> int:
        """Insert ``body`` (and what it holds inline); an ``@iot.id`` names an existing one."""
        if not isinstance(body, dict):
            raise ValidationFailed(f"a {es.singular} must be a JSON object", code="wrong_type")
        if "@iot.id" in body:
            return self._existing(es, body["@iot.id"])
        if not self.manage and es.name not in {"Observations", "FeaturesOfInterest"}:
            raise Forbidden(
                f"this account may send observations but not create a {es.singular}",
                code="role_forbidden",
            )
        values: dict[str, Any] = {}
        later: list[tuple[Link, Any]] = []
        for key, value in body.items():
            if key in IGNORED or "@iot." in key:
                continue
            prop = es.prop(key)
            if prop is not None:
                values[prop.attr] = in_value(prop, value)
                continue
            link = es.link(key)
            if link is None:
                raise ValidationFailed(
                    f"{es.singular} has no property {key!r}", code="unknown_property"
                )
            if link.fk_source:
                values[link.fk_source] = self.create(SETS[link.target], value)
            else:
                later.append((link, value))
        if back is not None:
            values[back[0]] = back[1]
        self._check_required(es, values)
        ident = self._insert(es, values)
        for link, items in later:
            self._link_many(es, ident, link, items, creating=True)
        return ident

    def _existing(self, es: EntitySet, ident: Any) -> int:
        if not isinstance(ident, int) or isinstance(ident, bool):
            raise ValidationFailed("@iot.id must be an integer", code="wrong_type")
        if not 0 <= ident <= MAX_ID or self._row(es, ident) is None:
            raise ValidationFailed(f"no {es.singular} {ident}", code="unknown_reference")
        return ident

    def _row(self, es: EntitySet, ident: int, *, change: bool = False) -> Any:
        """One entity or None; an observation to ``change`` is first moved into the table the
        ORM writes (``sensing.recent.settle``)."""
        if es.name != "Observations":
            return self.session.get(es.model, ident)
        if change:
            recent.settle(self.session, [ident])
            return self.session.get(Observation, ident)
        return self.session.scalars(sa.select(_OBS).where(_OBS.id == ident)).first()

    def _check_required(self, es: EntitySet, values: Mapping[str, Any]) -> None:
        for prop in es.props:
            if prop.required and values.get(prop.attr) is None:
                raise ValidationFailed(f"{es.singular} needs {prop.name}", code="missing_property")
        for fk in REQUIRED_LINKS.get(es.name, ()):
            if values.get(fk) is None:
                name = next(lk.name for lk in es.links if lk.fk_source == fk)
                raise ValidationFailed(f"{es.singular} needs its {name}", code="missing_link")

    def _insert(self, es: EntitySet, values: dict[str, Any]) -> int:
        if es.name == "Observations":
            return self.observation(values)
        row = entities.create(session=self.session, model=es.model, values=values)
        ident: int = row.id  # type: ignore[attr-defined]
        return ident

    def default_foi(self, datastream_id: int) -> int | None:
        """The FeatureOfInterest made from the Thing's Location (STA: when none is given)."""
        if datastream_id in self._foi:
            return self._foi[datastream_id]
        loc = self.session.scalars(
            sa.select(Location)
            .join(ThingLocation, ThingLocation.location_id == Location.id)
            .join(Datastream, Datastream.thing_id == ThingLocation.thing_id)
            .where(Datastream.id == datastream_id)
            .order_by(Location.id)
            .limit(1)
        ).first()
        found: int | None = None
        if loc is not None:
            found = self.session.scalar(
                sa.select(FeatureOfInterest.id)
                .where(
                    FeatureOfInterest.name == loc.name, FeatureOfInterest.feature == loc.location
                )
                .limit(1)
            )
            if found is None:
                values = {
                    "name": loc.name, "description": loc.description,
                    "encoding_type": loc.encoding_type, "feature": loc.location,
                }  # fmt: skip
                found = entities.create(
                    session=self.session, model=FeatureOfInterest, values=values
                ).id
        self._foi[datastream_id] = found
        return found

    def observation(self, values: Mapping[str, Any]) -> int:
        when = values.get("phenomenon_time") or self.clock.now()
        raw = {
            "datastream_id": values["datastream_id"],
            "phenomenon_time": when,
            "result": values.get("result"),
            "result_time": values.get("result_time"),
            "parameters": values.get("parameters"),
            "foi_id": values.get("foi_id") or self.default_foi(int(values["datastream_id"])),
        }
        outcome = service.ingest(
            session=self.session, readings=[raw], clock=self.clock, settings=self.settings,
            source="sta",
        )  # fmt: skip
        if outcome.rejected:
            bad = outcome.rejected[0]
            raise ValidationFailed(bad.message, code=bad.reason)
        found = self.find_ids(int(values["datastream_id"]), [when])
        return found[when]

    def find_ids(self, datastream_id: int, times: list[datetime]) -> dict[datetime, int]:
        rows = self.session.execute(
            sa.select(_OBS.phenomenon_time, _OBS.id).where(
                _OBS.datastream_id == datastream_id, _OBS.phenomenon_time.in_(times)
            )
        )
        return {t.astimezone(UTC): int(i) for t, i in rows}

    def _link_many(
        self, es: EntitySet, ident: int, link: Link, items: Any, *, creating: bool
    ) -> None:
        if not isinstance(items, list):
            raise ValidationFailed(f"{link.name} must be a list", code="wrong_type")
        target = SETS[link.target]
        if link.fk_target:
            if not creating:
                raise ValidationFailed(
                    f"add {link.name} by POSTing to {es.name}({ident})/{link.name}",
                    code="unsupported",
                )
            for item in items:
                if isinstance(item, dict) and "@iot.id" in item:
                    self._relink(
                        target, self._existing(target, item["@iot.id"]), link.fk_target, ident
                    )
                else:
                    self.create(target, item, back=(link.fk_target, ident))
            return
        ids = [self.create(target, item) for item in items]
        if (es.name, link.name) == ("Things", "Locations"):
            entities.set_thing_locations(
                session=self.session, thing_id=ident, location_ids=ids, clock=self.clock
            )
        elif (es.name, link.name) == ("Locations", "Things"):
            for thing_id in ids:
                entities.set_thing_locations(
                    session=self.session, thing_id=thing_id, location_ids=[ident], clock=self.clock
                )
        else:
            pairs = [(ident, i) if es.name == "HistoricalLocations" else (i, ident) for i in ids]
            self.session.add_all(
                HistoricalLocationLocation(historical_location_id=h, location_id=loc)
                for h, loc in pairs
            )
            self.session.flush()

    def link_existing(self, es: EntitySet, ident: int, link: Link, other: int) -> None:
        """Link ``other`` (just created by POST on ``es(ident)/link``) to ``es(ident)``."""
        self._link_many(es, ident, link, [{"@iot.id": other}], creating=True)

    def _relink(self, es: EntitySet, ident: int, fk: str, to: int) -> None:
        if es.name == "Observations":
            row = self._row(es, ident, change=True)
            assert row is not None
            setattr(row, fk, to)
            self.session.flush()
        else:
            entities.update_(session=self.session, model=es.model, id=ident, values={fk: to})

    # -- update / delete -----------------------------------------------------------------------
    def update(self, es: EntitySet, ident: int, body: Any, *, replace: bool) -> None:
        if not isinstance(body, dict):
            raise ValidationFailed(f"a {es.singular} must be a JSON object", code="wrong_type")
        row = self._row(es, ident, change=True)
        if row is None:
            raise NotFound(f"no {es.singular} {ident}", code="not_found")
        values: dict[str, Any] = {}
        for key, value in body.items():
            if key in IGNORED or "@iot." in key:
                continue
            prop = es.prop(key)
            link = es.link(key)
            if prop is not None:
                values[prop.attr] = in_value(prop, value)
            elif link is not None and link.fk_source:
                values[link.fk_source] = self.create(SETS[link.target], value)
            elif link is not None:
                self._link_many(es, ident, link, value, creating=False)
            else:
                raise ValidationFailed(
                    f"{es.singular} has no property {key!r}", code="unknown_property"
                )
        if replace:
            for prop in es.props:
                if prop.attr not in values:
                    if prop.required:
                        raise ValidationFailed(
                            f"PUT replaces the whole {es.singular}: {prop.name} is missing",
                            code="missing_property",
                        )
                    values[prop.attr] = "" if prop.name == "description" else None
        if es.name == "Observations":
            self._update_observation(row, values)
        elif values:
            entities.update_(session=self.session, model=es.model, id=ident, values=values)

    def _update_observation(self, row: Any, values: dict[str, Any]) -> None:
        if "result" in values:
            result = values.pop("result")
            numeric = isinstance(result, int | float) and not isinstance(result, bool)
            row.result = float(result) if numeric else None
            row.result_json = None if numeric else result
        for key, value in values.items():
            if key == "phenomenon_time" and value is None:
                continue
            if key == "phenomenon_time":
                timeseries.ensure_partitions(self.session, {value.date()})
            setattr(row, key, value)
        self.session.flush()
        if values.get("phenomenon_time") is not None:
            recent.cover(self.session, values["phenomenon_time"])

    def delete(self, es: EntitySet, ident: int) -> None:
        if es.name == "Observations":
            row = self._row(es, ident, change=True)
            if row is None:
                raise NotFound(f"no Observation {ident}", code="not_found")
            self.session.delete(row)
            self.session.flush()
            return
        entities.delete_(session=self.session, model=es.model, id=ident)

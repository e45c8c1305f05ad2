"""The STA 1.1 entity sets over the sensing tables: properties, navigation links, JSON shapes.

This is the one place that knows that STA's ``encodingType`` is the column ``encoding_type`` or
that ``Things(1)/Locations`` goes through the ``sta_thing_location`` link table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from cityops.sensing import recent
from cityops.sensing.models import (
    Datastream,
    FeatureOfInterest,
    HistoricalLocation,
    HistoricalLocationLocation,
    Location,
    Observation,
    ObservedProperty,
    Sensor,
    Thing,
    ThingLocation,
)
from cityops.store.base import Base


@dataclass(frozen=True, slots=True)
class Prop:
    name: str  # STA name
    attr: str  # model attribute
    kind: str = "plain"  # plain | json | time | geojson | result
    required: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    name: str  # "Datastreams", "Thing"
    target: str  # entity set name
    many: bool
    fk_source: str | None = None  # the source row holds the target's id
    fk_target: str | None = None  # the target rows hold the source's id
    assoc: tuple[type[Base], str, str] | None = None  # (link model, source column, target column)


@dataclass(frozen=True, slots=True)
class EntitySet:
    name: str  # "Things"
    singular: str  # "Thing"
    model: type[Base]
    props: tuple[Prop, ...]
    links: tuple[Link, ...]
    reads: Any = None  # what queries select from, when not the model's table

    @property
    def rows(self) -> Any:
        """The model, or what stands for it in reads (Observations: both readings' tables)."""
        return self.model if self.reads is None else self.reads

    def prop(self, name: str) -> Prop | None:
        return next((p for p in self.props if p.name == name), None)

    def link(self, name: str) -> Link | None:
        return next((lk for lk in self.links if lk.name == name), None)


_NAME = Prop("name", "name", required=True)
_DESC = Prop("description", "description")
_PROPS = Prop("properties", "properties", "json")
_ENC = Prop("encodingType", "encoding_type")

SETS: dict[str, EntitySet] = {
    es.name: es
    for es in (
        EntitySet(
            "Things", "Thing", Thing, (_NAME, _DESC, _PROPS),
            (
                Link(
                    "Locations", "Locations", True,
                    assoc=(ThingLocation, "thing_id", "location_id"),
                ),
                Link("HistoricalLocations", "HistoricalLocations", True, fk_target="thing_id"),
                Link("Datastreams", "Datastreams", True, fk_target="thing_id"),
            ),
        ),
        EntitySet(
            "Locations", "Location", Location,
            (_NAME, _DESC, _ENC, Prop("location", "location", "geojson", required=True)),
            (
                Link("Things", "Things", True, assoc=(ThingLocation, "location_id", "thing_id")),
                Link(
                    "HistoricalLocations", "HistoricalLocations", True,
                    assoc=(HistoricalLocationLocation, "location_id", "historical_location_id"),
                ),
            ),
        ),
        EntitySet(
            "HistoricalLocations", "HistoricalLocation", HistoricalLocation,
            (Prop("time", "time", "time", required=True),),
            (
                Link("Thing", "Things", False, fk_source="thing_id"),
                Link(
                    "Locations", "Locations", True,
                    assoc=(HistoricalLocationLocation, "historical_location_id", "location_id"),
                ),
            ),
        ),
        EntitySet(
            "Datastreams", "Datastream", Datastream,
            (
                _NAME, _DESC, Prop("unitOfMeasurement", "unit_of_measurement", "json", True),
                Prop("observationType", "observation_type"), _PROPS,
            ),
            (
                Link("Thing", "Things", False, fk_source="thing_id"),
                Link("Sensor", "Sensors", False, fk_source="sensor_id"),
                Link(
                    "ObservedProperty", "ObservedProperties", False,
                    fk_source="observed_property_id",
                ),
                Link("Observations", "Observations", True, fk_target="datastream_id"),
            ),
        ),
        EntitySet(
            "Sensors", "Sensor", Sensor,
            (_NAME, _DESC, _ENC, Prop("metadata", "sensor_metadata"), _PROPS),
            (Link("Datastreams", "Datastreams", True, fk_target="sensor_id"),),
        ),
        EntitySet(
            "ObservedProperties", "ObservedProperty", ObservedProperty,
            (_NAME, Prop("definition", "definition"), _DESC, _PROPS),
            (Link("Datastreams", "Datastreams", True, fk_target="observed_property_id"),),
        ),
        EntitySet(
            "Observations", "Observation", Observation,
            (
                Prop("phenomenonTime", "phenomenon_time", "time"),
                Prop("resultTime", "result_time", "time"),
                Prop("result", "result", "result", required=True),
                Prop("parameters", "parameters", "json"),
            ),
            (
                Link("Datastream", "Datastreams", False, fk_source="datastream_id"),
                Link("FeatureOfInterest", "FeaturesOfInterest", False, fk_source="foi_id"),
            ),
            recent.READ_MODEL,
        ),
        EntitySet(
            "FeaturesOfInterest", "FeatureOfInterest", FeatureOfInterest,
            (_NAME, _DESC, _ENC, Prop("feature", "feature", "geojson", required=True), _PROPS),
            (Link("Observations", "Observations", True, fk_target="foi_id"),),
        ),
    )
}  # fmt: skip
# Accepted on input for compatibility, not stored (documented in docs/api.md).
IGNORED = frozenset({"resultQuality", "validTime", "phenomenonTime@Datastream"})


def column(model: Any, attr: str) -> ColumnElement[Any]:
    """The SQL expression of a mapped attribute (of a model or an alias of it)."""
    col: InstrumentedAttribute[Any] = getattr(model, attr)
    return col.expression


def ids_through(link: Link, target: EntitySet, source: EntitySet, where: Any) -> Any:
    """A condition on ``target`` rows: linked by ``link`` to ``source`` rows matching ``where``."""
    src_ids = select(column(source.rows, "id")).where(where)
    tgt_id = column(target.rows, "id")
    if link.fk_source:
        return tgt_id.in_(select(column(source.rows, link.fk_source)).where(where))
    if link.fk_target:
        return column(target.rows, link.fk_target).in_(src_ids)
    assert link.assoc is not None
    table, src_col, tgt_col = link.assoc
    return tgt_id.in_(select(column(table, tgt_col)).where(column(table, src_col).in_(src_ids)))


def correlated(link: Link, outer: Any, inner: Any) -> ColumnElement[bool]:
    """``inner`` (an alias of the target) is linked to the ``outer`` row."""
    result: ColumnElement[bool]
    if link.fk_source:
        result = column(inner, "id") == column(outer, link.fk_source)
    elif link.fk_target:
        result = column(inner, link.fk_target) == column(outer, "id")
    else:
        assert link.assoc is not None
        table, src_col, tgt_col = link.assoc
        result = column(inner, "id").in_(
            select(column(table, tgt_col)).where(column(table, src_col) == column(outer, "id"))
        )
    return result


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def out_value(prop: Prop, row: Any) -> Any:
    value = getattr(row, prop.attr)
    if prop.kind == "time":
        return iso(value)
    if prop.kind == "geojson":
        try:
            return json.loads(value) if isinstance(value, str) else value
        except ValueError:
            return value
    if prop.kind == "result":
        return value if value is not None else row.result_json
    if prop.name == "description" and value is None:
        return ""
    return value

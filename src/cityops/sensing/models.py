"""Sensing tables after OGC SensorThings API 1.1, plus intake dedupe, commands and aggregates.

The observation row is kept narrow (it must take 100,000 rows/s): no foreign keys (the intake
validates datastreams before insert), a numeric ``result`` and a JSON ``result_json`` only for
non-numeric results. ``(datastream_id, phenomenon_time)`` is unique: one reading is stored once.
On PostgreSQL the observation table is partitioned by day on ``phenomenon_time``; partitions are
created on demand by ``cityops.sensing.timeseries.ensure_partitions`` before an insert.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, column_property, mapped_column
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.types import TypeEngine

from cityops.store.base import Base, UtcDateTime

# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is the 64-bit rowid already.
BigId = BigInteger().with_variant(Integer(), "sqlite")

GEOJSON = "application/geo+json"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """Exact microseconds since the epoch of an aware datetime."""
    return (value - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class EpochTime(TypeDecorator[datetime]):
    """Aware UTC datetimes; an 8-byte integer of microseconds on SQLite, timestamptz on PG.

    The observation row and its unique index stay narrow on SQLite (a 26-character text time
    made the index 2.5 times wider and the store about a third slower), and minute/hour buckets
    are integer arithmetic. ORM users see datetimes either way.
    """

    impl = BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return to_micros(value) if dialect.name == "sqlite" else value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return from_micros(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Thing(Base):
    """A device or an actuator; linked to the registry's 部件 (and so its grid and department)."""

    __tablename__ = "sta_thing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    component_id: Mapped[int | None] = mapped_column(ForeignKey("component.id"), index=True)
    is_actuator: Mapped[bool] = mapped_column(Boolean, default=False)
    command_topic: Mapped[str | None] = mapped_column(String(200))


class Location(Base):
    """Where a Thing is; GeoJSON text plus lat/lng columns for queries."""

    __tablename__ = "sta_location"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(64), default=GEOJSON)
    location: Mapped[str] = mapped_column(Text)  # GeoJSON geometry (or Feature) as text
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_sta_location_lat_lng", "lat", "lng"),)


class ThingLocation(Base):
    """The Thing ↔ Location link (STA: a Thing has its current Locations)."""

    __tablename__ = "sta_thing_location"

    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_thing.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(
        ForeignKey("sta_location.id", ondelete="CASCADE"), index=True
    )

    __table_args__ = (PrimaryKeyConstraint("thing_id", "location_id"),)


class HistoricalLocation(Base):
    """When a Thing was at its Location(s)."""

    __tablename__ = "sta_historical_location"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_thing.id", ondelete="CASCADE"))
    time: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_sta_historical_location_thing_time", "thing_id", "time"),)


class HistoricalLocationLocation(Base):
    """The HistoricalLocation ↔ Location link."""

    __tablename__ = "sta_historical_location_location"

    historical_location_id: Mapped[int] = mapped_column(
        ForeignKey("sta_historical_location.id", ondelete="CASCADE")
    )
    location_id: Mapped[int] = mapped_column(
        ForeignKey("sta_location.id", ondelete="CASCADE"), index=True
    )

    __table_args__ = (PrimaryKeyConstraint("historical_location_id", "location_id"),)


class Sensor(Base):
    """The instrument that observes (its datasheet in ``metadata``)."""

    __tablename__ = "sta_sensor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(64), default="application/pdf")
    # ``metadata`` is taken by SQLAlchemy's declarative base; the column keeps the STA name.
    sensor_metadata: Mapped[str] = mapped_column("metadata", Text, default="")
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ObservedProperty(Base):
    """What is observed (gas concentration, tilt, water level ...)."""

    __tablename__ = "sta_observed_property"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ObservationType(enum.StrEnum):
    """The O&M observation types STA names (the common ones)."""

    measurement = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
    count_obs = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation"
    truth = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_TruthObservation"
    category = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CategoryObservation"
    other = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation"


class DatastreamLatest(Base):
    """The newest reading of each datastream (moved forward only), for maps and dashboards."""

    __tablename__ = "sta_datastream_latest"

    datastream_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result: Mapped[float | None] = mapped_column(Float)
    result_json: Mapped[Any | None] = mapped_column(JSON)
    phenomenon_time: Mapped[datetime] = mapped_column(EpochTime())


class Datastream(Base):
    """A series of observations of one property by one sensor on one Thing.

    ``lat``/``lng`` are copied from the Thing's location so a bbox query is one index range.
    ``latest_*`` are read-only views of ``sta_datastream_latest`` (a narrow table: updating
    10,000 wide datastream rows per batch cost as much again as storing the readings).
    """

    __tablename__ = "sta_datastream"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    unit_of_measurement: Mapped[dict[str, Any]] = mapped_column(JSON)  # {name, symbol, definition}
    observation_type: Mapped[str] = mapped_column(
        String(120), default=ObservationType.measurement.value
    )
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_thing.id"), index=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sta_sensor.id"), index=True)
    observed_property_id: Mapped[int] = mapped_column(
        ForeignKey("sta_observed_property.id"), index=True
    )
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    latest_result: Mapped[float | None] = column_property(
        select(DatastreamLatest.result)
        .where(DatastreamLatest.datastream_id == id)
        .correlate_except(DatastreamLatest)
        .scalar_subquery()
    )
    latest_result_json: Mapped[Any | None] = column_property(
        select(DatastreamLatest.result_json)
        .where(DatastreamLatest.datastream_id == id)
        .correlate_except(DatastreamLatest)
        .scalar_subquery()
    )
    latest_phenomenon_time: Mapped[datetime | None] = column_property(
        select(DatastreamLatest.phenomenon_time)
        .where(DatastreamLatest.datastream_id == id)
        .correlate_except(DatastreamLatest)
        .scalar_subquery()
    )

    __table_args__ = (Index("ix_sta_datastream_lat_lng", "lat", "lng"),)


class FeatureOfInterest(Base):
    """The feature an observation is about (a tank, a river section)."""

    __tablename__ = "sta_feature_of_interest"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(64), default=GEOJSON)
    feature: Mapped[str] = mapped_column(Text)  # GeoJSON text
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ObservationColumns:
    """A reading's columns, the same in ``observation`` and ``observation_recent``."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    datastream_id: Mapped[int] = mapped_column(Integer)
    phenomenon_time: Mapped[datetime] = mapped_column(EpochTime())
    result_time: Mapped[datetime | None] = mapped_column(EpochTime())
    result: Mapped[float | None] = mapped_column(Float)
    result_json: Mapped[Any | None] = mapped_column(JSON)
    foi_id: Mapped[int | None] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Observation(ObservationColumns, Base):
    """One reading, keyed (datastream, time) so a datastream's history is one index range.

    Narrow on purpose; see the module docstring. On SQLite new readings land in
    ``RecentObservation`` first and reach this table by compaction (``sensing.recent``)."""

    __tablename__ = "observation"
    __table_args__ = (
        UniqueConstraint("datastream_id", "phenomenon_time", name="uq_observation_ds_time"),
        {"postgresql_partition_by": "RANGE (phenomenon_time)"},
    )


RECENT_PARTS = 10  # recent readings' tables: observation_recent_0 … _9
RECENT_BLOCK = 1_000  # datastream ids per block; block b's readings go to table b % RECENT_PARTS


def _recent_table(part: int) -> type[ObservationColumns]:
    """Readings not yet compacted into ``observation``, of the datastream blocks ``part`` holds
    (SQLite; empty on PostgreSQL). Keyed time first, so a batch appends at one end of the key
    instead of landing on a leaf page per datastream; see ``sensing.recent``."""
    name = f"observation_recent_{part}"
    key = UniqueConstraint("phenomenon_time", "datastream_id", name=f"uq_{name}_time_ds")
    attrs = {"__tablename__": name, "__table_args__": (key,), "__doc__": _recent_table.__doc__}
    return type(f"RecentObservation{part}", (ObservationColumns, Base), attrs)


RECENT_TABLES: tuple[type[ObservationColumns], ...] = tuple(
    _recent_table(part) for part in range(RECENT_PARTS)
)


@compiles(CreateTable, "postgresql")
def _create_table_pg(element: CreateTable, compiler: DDLCompiler, **kw: Any) -> str:
    """A partitioned table's primary key must include the partition column."""
    text = str(compiler.visit_create_table(element, **kw))  # type: ignore[no-untyped-call]
    if element.element.name == "observation":
        text = text.replace("PRIMARY KEY (id)", "PRIMARY KEY (id, phenomenon_time)")
    return text


class IngestMessage(Base):
    """A message id already taken in from a source (HTTP client, MQTT client); seen once."""

    __tablename__ = "sensing_ingest_message"

    source: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(EpochTime(), index=True)

    __table_args__ = (PrimaryKeyConstraint("source", "message_id"),)


class CommandStatus(enum.StrEnum):
    sent = "sent"
    acked = "acked"
    failed = "failed"


class ActuatorCommand(Base):
    """A command sent to an actuator Thing and its acknowledgement."""

    __tablename__ = "sensing_actuator_command"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_thing.id"), index=True)
    command: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    issued_by: Mapped[str] = mapped_column(String(100))  # user name, or "plan:<id>"
    status: Mapped[CommandStatus] = mapped_column(
        Enum(CommandStatus, native_enum=False, length=8), default=CommandStatus.sent
    )
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ack_payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class _AggColumns:
    """min/max/sum/count per (datastream, bucket); mean = sum / count (sums merge, means don't)."""

    datastream_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(EpochTime(), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)


class ObsAgg1m(_AggColumns, Base):
    """One-minute aggregates of numeric results."""

    __tablename__ = "obs_agg_1m"


class ObsAgg1h(_AggColumns, Base):
    """One-hour aggregates of numeric results."""

    __tablename__ = "obs_agg_1h"


class SensingWatermark(Base):
    """How far a background step has got (the rollup: the last observation id folded)."""

    __tablename__ = "sensing_watermark"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)

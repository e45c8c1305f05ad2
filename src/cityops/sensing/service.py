"""The intake fast path (validate, dedupe, store, latest value, one bus event) and commands.

``ingest`` writes with the raw DBAPI cursor of the session's own connection (so it is the caller's
transaction): one ``INSERT ... SELECT FROM json_each(?)`` on SQLite (into the recent table,
``sensing.recent``), ``unnest(...)`` on PostgreSQL, both with ``ON CONFLICT DO NOTHING`` so a
repeated (datastream, time) is counted as a duplicate, not stored. SQLAlchemy's per-row type
processing would cost more than the insert.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cityops.bus.memory import queue_event
from cityops.clock import Clock
from cityops.errors import NotFound, ValidationFailed
from cityops.sensing import aggregates, catalogue, obs_rows, recent, timeseries, validate
from cityops.sensing.catalogue import bump_catalogue as bump_catalogue  # used by sim/
from cityops.sensing.models import (
    ActuatorCommand,
    CommandStatus,
    IngestMessage,
    Thing,
    to_micros,
)
from cityops.sensing.validate import Reading, Rejection
from cityops.settings import Settings, get_settings
from cityops.store.engine import raw_cursor

SUBJECT_BATCH = "observations.batch"
SUBJECT_COMMAND = "actuators.command"
SUBJECT_ACK = "actuators.ack"
_CHUNK = 5000  # ids per IN (...) list


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    stored_readings: list[Reading] = field(default_factory=list)


def limits_from(settings: Settings) -> validate.Limits:
    return validate.Limits(
        max_future=timedelta(seconds=settings.sensing_max_future_seconds),
        max_past=timedelta(days=settings.sensing_max_past_days),
    )


def ingest(
    *,
    session: Session,
    readings: Sequence[Any],
    clock: Clock,
    settings: Settings | None = None,
    source: str = "http",
    message_id: str | None = None,
    update_latest: bool = True,
) -> IngestResult:
    """Validate and store a batch in the caller's transaction; one bus event after commit.

    With ``update_latest=False`` the datastreams' latest values are left to ``rollup`` (which
    folds them from the new rows): a high-rate pipeline then updates each datastream once per
    rollup instead of once per batch.
    """
    settings = settings or get_settings()
    checked = catalogue.check_batch(session, readings, clock.now(), limits_from(settings))
    return store_checked(
        session=session,
        checked=checked,
        clock=clock,
        source=source,
        message_id=message_id,
        update_latest=update_latest,
    )


def store_checked(
    *,
    session: Session,
    checked: validate.Checked,
    clock: Clock,
    source: str,
    message_id: str | None = None,
    update_latest: bool = True,
    evaluated: bool = False,
    fold_rows: int = 0,
    prepared: obs_rows.Rows | None = None,
) -> IngestResult:
    """Store readings validated already (``sensing.door`` validates before the rules react).

    ``prepared``: ``obs_rows.prepare(checked.accepted)`` made before the transaction (SQLite;
    made here when absent, or when message ids leave some readings out).

    ``evaluated`` marks the batch event so the rules feed does not evaluate it a second time.
    ``fold_rows`` > 0 on SQLite folds up to that many raw rows into the open buckets in this
    same transaction (``timeseries.rollup``; the batch itself from the rows sent, not read back)
    and writes the buckets that closed: the door is then the only writer a fan command could
    wait behind, instead of a background rollup. PostgreSQL keeps the background rollup, whose
    advisory lock orders concurrent writers' ids.
    """
    now = clock.now()
    result = IngestResult(accepted=len(checked.accepted), rejected=checked.rejected)
    fresh = _new_messages(session, checked.accepted, source, message_id, now)
    pg = timeseries.is_pg(session)
    if fresh is not checked.accepted or pg or prepared is None:  # ids dropped some: again
        prepared = None if pg else obs_rows.prepare(fresh)
    unique = prepared.readings if prepared is not None else obs_rows.unique(fresh)
    if unique:
        stored, before, rows = _store(session, unique, prepared)
        if update_latest and stored:
            timeseries.fold_latest(session=session, after_id=before)
        if fold_rows > 0 and stored and not pg:
            every = aggregates.Stored(before, rows) if rows is not None else None
            timeseries.rollup(session=session, max_rows=fold_rows, stored=every, now=now)
        result.stored = len(stored)
        result.stored_readings = stored
        if stored:
            data = obs_rows.event_data(stored, evaluated, prepared)
            queue_event(session.info, SUBJECT_BATCH, data)
    result.duplicates = result.accepted - result.stored
    return result


def _new_messages(
    session: Session, readings: list[Reading], source: str, batch_id: str | None, now: datetime
) -> list[Reading]:
    """Drop readings whose message id (or the whole batch's id) was taken in before."""
    ids = {r.message_id for r in readings if r.message_id is not None}
    if batch_id is not None:
        ids.add(batch_id)
    if not ids:
        return readings
    seen: set[str] = set()
    ordered = sorted(ids)
    for i in range(0, len(ordered), _CHUNK):
        seen.update(
            session.scalars(
                select(IngestMessage.message_id).where(
                    IngestMessage.source == source,
                    IngestMessage.message_id.in_(ordered[i : i + _CHUNK]),
                )
            )
        )
    if batch_id is not None and batch_id in seen:
        return []
    new_ids = [m for m in ordered if m not in seen]
    if new_ids:
        cursor = raw_cursor(session)
        if timeseries.is_pg(session):
            cursor.execute(
                "INSERT INTO sensing_ingest_message (source, message_id, received_at) "
                "SELECT %s, m, %s FROM unnest(%s::text[]) AS m ON CONFLICT DO NOTHING",
                (source, now, new_ids),
            )
        else:
            cursor.execute(
                "INSERT INTO sensing_ingest_message (source, message_id, received_at) "
                "SELECT ?, value, ? FROM json_each(?) WHERE true ON CONFLICT DO NOTHING",
                (source, _sqlite_time(now), json.dumps(new_ids)),
            )
    out: list[Reading] = []
    for r in readings:
        if r.message_id is None:
            out.append(r)
        elif r.message_id not in seen:
            seen.add(r.message_id)  # a repeat inside this batch is a duplicate too
            out.append(r)
    return out


_sqlite_time = to_micros  # EpochTime's SQLite storage: microseconds since the epoch


def _store(
    session: Session, rows: list[Reading], prepared: obs_rows.Rows | None
) -> tuple[list[Reading], int, list[tuple[Any, ...]] | None]:
    """Insert; return the readings actually stored (duplicates of earlier batches dropped),
    the largest observation id before them (the new rows are those above it) and, on SQLite
    when all were new, the rows as inserted (datastream, time µs, result, ...) in id order."""
    timeseries.lock_for_ingest(session)
    pg = timeseries.is_pg(session)
    if pg:
        timeseries.ensure_partitions(session, {_day(r.phenomenon_time) for r in rows})
    cursor = raw_cursor(session)
    if prepared is None:
        before = session.scalar(text("SELECT max(id) FROM observation")) or 0
        inserted = obs_rows.insert_pg(cursor, rows)
    else:  # SQLite: store_checked has prepared them; they go into the recent tables
        before = recent.take_ids(cursor, len(rows))
        inserted = obs_rows.insert_sqlite(cursor, prepared, recent.guard(cursor), before + 1)
    if inserted == len(rows):
        return rows, before, None if prepared is None else prepared.sent
    columns, where = "datastream_id, phenomenon_time", "WHERE id > :b"
    source = f"observation {where}" if pg else recent.both(columns, where, hint=" NOT INDEXED")
    new = session.execute(text(f"SELECT {columns} FROM {source}"), {"b": before})
    if pg:
        keys = {(int(d), t.astimezone(UTC)) for d, t in new}
        return [r for r in rows if (r.datastream_id, r.phenomenon_time) in keys], before, None
    skeys = {(int(d), int(t)) for d, t in new}
    kept = [r for r in rows if (r.datastream_id, _sqlite_time(r.phenomenon_time)) in skeys]
    return kept, before, None


def _day(t: datetime) -> date:
    return t.date()


def record_command(
    *,
    session: Session,
    thing_id: int,
    command: str,
    payload: dict[str, Any] | None,
    issued_by: str,
    clock: Clock,
) -> ActuatorCommand:
    """Record a command to an actuator; the MQTT door publishes it after commit."""
    thing = session.get(Thing, thing_id)
    if thing is None:
        raise NotFound(f"no thing {thing_id}", code="thing_not_found")
    if not thing.is_actuator or not thing.command_topic:
        raise ValidationFailed(f"thing {thing_id} is not an actuator", code="not_an_actuator")
    row = ActuatorCommand(
        thing_id=thing_id,
        command=command,
        payload=payload,
        issued_at=clock.now(),
        issued_by=issued_by,
        status=CommandStatus.sent,
    )
    session.add(row)
    session.flush()
    queue_event(
        session.info,
        SUBJECT_COMMAND,
        {
            "id": row.id,
            "thing_id": thing_id,
            "topic": thing.command_topic,
            "command": command,
            "payload": payload,
            "issued_at": row.issued_at.isoformat(),
        },
    )
    return row


def unacknowledged_commands(*, session: Session, since: datetime) -> list[dict[str, Any]]:
    """Commands issued since ``since`` still ``sent``, oldest first, as their bus events' data."""
    rows = session.execute(
        select(ActuatorCommand, Thing.command_topic)
        .join(Thing, Thing.id == ActuatorCommand.thing_id)
        .where(
            ActuatorCommand.status == CommandStatus.sent,
            ActuatorCommand.issued_at >= since,
            Thing.command_topic.is_not(None),
        )
        .order_by(ActuatorCommand.id)
    )
    return [
        {
            "id": row.id,
            "thing_id": row.thing_id,
            "topic": topic,
            "command": row.command,
            "payload": row.payload,
            "issued_at": row.issued_at.isoformat(),
        }
        for row, topic in rows
    ]


def ack_command(
    *,
    session: Session,
    command_id: int,
    ok: bool,
    payload: dict[str, Any] | None,
    clock: Clock,
) -> ActuatorCommand:
    """Record the device's acknowledgement (or failure) of a command.

    The same answer again (a QoS 1 redelivery, a device that repeats itself) changes nothing:
    the first ``acked_at`` stands and no second event goes out."""
    row = session.get(ActuatorCommand, command_id)
    if row is None:
        raise NotFound(f"no command {command_id}", code="command_not_found")
    status = CommandStatus.acked if ok else CommandStatus.failed
    if row.status == status and row.acked_at is not None and row.ack_payload == payload:
        return row
    row.status = status
    row.acked_at = clock.now()
    row.ack_payload = payload
    session.flush()
    queue_event(
        session.info,
        SUBJECT_ACK,
        {"id": row.id, "thing_id": row.thing_id, "status": row.status.value},
    )
    return row

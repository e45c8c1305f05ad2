"""The intake fast path (validate, dedupe, store, latest value, one bus event) and commands.

``ingest`` writes with the raw DBAPI cursor of the session's own connection (so it is the
caller's transaction): one ``INSERT ... SELECT FROM json_each(?)`` on SQLite, ``unnest(...)`` on
PostgreSQL, both with ``ON CONFLICT DO NOTHING`` so a repeated (datastream, time) is counted as a
duplicate, not stored. SQLAlchemy's per-row type processing would cost more than the insert.
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
from cityops.sensing import aggregates, catalogue, timeseries, validate
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
) -> IngestResult:
    """Store readings validated already (``sensing.door`` validates before the rules react).

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
    unique: dict[tuple[int, datetime], Reading] = {}
    for r in fresh:
        unique.setdefault((r.datastream_id, r.phenomenon_time), r)
    if unique:
        stored, before, rows = _store(session, list(unique.values()))
        if update_latest and stored:
            timeseries.fold_latest(session=session, after_id=before)
        if fold_rows > 0 and stored and not timeseries.is_pg(session):
            every = aggregates.Stored(before, rows) if rows is not None else None
            timeseries.rollup(session=session, max_rows=fold_rows, stored=every, now=now)
        result.stored = len(stored)
        result.stored_readings = stored
        if stored:
            queue_event(session.info, SUBJECT_BATCH, _event_data(stored, evaluated))
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
        cursor = _cursor(session)
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


def _cursor(session: Session) -> Any:
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]


_sqlite_time = to_micros  # EpochTime's SQLite storage: microseconds since the epoch


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _store(
    session: Session, rows: list[Reading]
) -> tuple[list[Reading], int, list[tuple[Any, ...]] | None]:
    """Insert; return the readings actually stored (duplicates of earlier batches dropped),
    the largest observation id before them (the new rows are those above it) and, on SQLite
    when all were new, the rows as inserted (datastream, time µs, result, ...) in id order."""
    timeseries.lock_for_ingest(session)
    pg = timeseries.is_pg(session)
    if pg:
        timeseries.ensure_partitions(session, {_day(r.phenomenon_time) for r in rows})
    before = session.scalar(text("SELECT max(id) FROM observation")) or 0
    cursor = _cursor(session)
    plain: list[Reading] = []
    full: list[Reading] = []
    for r in rows:  # fields 4-6: result_time, parameters, foi_id
        (full if r[4] is not None or r[5] is not None or r[6] is not None else plain).append(r)
    sent: list[tuple[Any, ...]] | None = None
    if pg:
        inserted = _insert_pg(cursor, plain, full)
    else:
        inserted, sent = _insert_sqlite(cursor, plain, full)
    if inserted == len(rows):
        return rows, before, sent
    source = "observation" if pg else "observation NOT INDEXED"  # the id range, not an index
    new = session.execute(
        text(f"SELECT datastream_id, phenomenon_time FROM {source} WHERE id > :b"), {"b": before}
    )
    if pg:
        keys = {(int(d), t.astimezone(UTC)) for d, t in new}
        return [r for r in rows if (r.datastream_id, r.phenomenon_time) in keys], before, None
    skeys = {(int(d), int(t)) for d, t in new}
    kept = [r for r in rows if (r.datastream_id, _sqlite_time(r.phenomenon_time)) in skeys]
    return kept, before, None


def _day(t: datetime) -> date:
    return t.date()


# SQLite inserts take one JSON text and unpack it themselves (json_each): the statement holds
# the GIL once, where executemany gives it up and takes it back for every row, so a busy
# thread beside it (MQTT decoding, HTTP) cut executemany to 16,000 rows/s against 172,000.
_INSERT_PLAIN = (
    "INSERT INTO observation (datastream_id, phenomenon_time, result, result_json) "
    "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?) WHERE true "
    "ON CONFLICT DO NOTHING"
)
_INSERT_FULL = (
    "INSERT INTO observation (datastream_id, phenomenon_time, result, result_json, "
    "result_time, parameters, foi_id) SELECT value ->> 0, value ->> 1, value ->> 2, "
    "value ->> 3, value ->> 4, value ->> 5, value ->> 6 FROM json_each(?) WHERE true "
    "ON CONFLICT DO NOTHING"
)


def _insert_sqlite(
    cursor: Any, plain: list[Reading], full: list[Reading]
) -> tuple[int, list[tuple[Any, ...]]]:
    """Insert; rows stored and the parameter rows sent, in the order sent."""
    n = 0
    sent: list[tuple[Any, ...]] = []
    fmt = _sqlite_time
    if plain:
        micros: dict[datetime, int] = {}  # a batch shares a few times: convert each once
        params = [
            (
                r[0],
                micros.get(r[1]) or micros.setdefault(r[1], fmt(r[1])),
                r[2],
                None if r[3] is None else _dump(r[3]),
            )
            for r in plain
        ]
        params.sort()  # (datastream, time) order: the unique index is filled page by page
        sent += params
        cursor.execute(_INSERT_PLAIN, (json.dumps(params),))
        n += cursor.rowcount
    if full:
        rows = [
            (
                r.datastream_id,
                fmt(r.phenomenon_time),
                r.result,
                _dump(r.result_json),
                fmt(r.result_time) if r.result_time else None,
                _dump(r.parameters),
                r.foi_id,
            )
            for r in full
        ]
        sent += rows
        cursor.execute(_INSERT_FULL, (json.dumps(rows),))
        n += cursor.rowcount
    return n, sent


def _insert_pg(cursor: Any, plain: list[Reading], full: list[Reading]) -> int:
    rows = plain + full
    cursor.execute(
        "INSERT INTO observation (datastream_id, phenomenon_time, result, result_json, "
        "result_time, parameters, foi_id) "
        "SELECT d, t, r, j::json, rt, p::json, f FROM unnest("
        "%s::int[], %s::timestamptz[], %s::float8[], %s::text[], %s::timestamptz[], "
        "%s::text[], %s::int[]) AS u(d, t, r, j, rt, p, f) ON CONFLICT DO NOTHING",
        (
            [r.datastream_id for r in rows],
            [r.phenomenon_time for r in rows],
            [r.result for r in rows],
            [_dump(r.result_json) for r in rows],
            [r.result_time for r in rows],
            [_dump(r.parameters) for r in rows],
            [r.foi_id for r in rows],
        ),
    )
    return int(cursor.rowcount)


def _event_data(stored: list[Reading], evaluated: bool) -> dict[str, Any]:
    """Compact, columnar: datastream ids, epoch-second times and results of stored readings."""
    return {
        "count": len(stored),
        "evaluated": evaluated,
        "datastream_id": [r.datastream_id for r in stored],
        "time": [r.phenomenon_time.timestamp() for r in stored],
        "result": [r.result if r.result is not None else r.result_json for r in stored],
    }


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
    """Record the device's acknowledgement (or failure) of a command."""
    row = session.get(ActuatorCommand, command_id)
    if row is None:
        raise NotFound(f"no command {command_id}", code="command_not_found")
    row.status = CommandStatus.acked if ok else CommandStatus.failed
    row.acked_at = clock.now()
    row.ack_payload = payload
    session.flush()
    queue_event(
        session.info,
        SUBJECT_ACK,
        {"id": row.id, "thing_id": row.thing_id, "status": row.status.value},
    )
    return row

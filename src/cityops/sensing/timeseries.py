"""Time-series storage: day partitions (PostgreSQL), the 1m/1h rollup, retention, and queries.

The rollup folds raw rows with ``id`` above a watermark into ``obs_agg_1m``/``obs_agg_1h`` with one
set-based ``INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE`` per resolution; sums and
counts merge, so a late reading folds in exactly. On PostgreSQL ids are taken from a sequence by
concurrent writers, so an ingest holds a shared advisory lock and the rollup an exclusive one while
it reads ``max(id)``: every id at or below the mark it reads is committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from cityops.sensing import aggregates, recent
from cityops.sensing.models import (
    IngestMessage,
    ObsAgg1h,
    ObsAgg1m,
    SensingWatermark,
    from_micros,
    to_micros,
)
from cityops.settings import Settings
from cityops.store.engine import raw_cursor

ROLLUP_LOCK = 0x5E751  # advisory lock key shared by ingest (shared) and rollup (exclusive)
ROLLUP = "rollup"
Agg = Literal["raw", "1m", "1h"]

PARTITION_LOCK_BASE = 0x0B5E_0000_0000  # advisory lock keys: this + the day's ordinal
_partitions: set[tuple[str, str]] = set()  # (database url, partition name) known to exist


def is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def partition_name(day: date) -> str:
    return f"observation_p{day:%Y%m%d}"


def ensure_partitions(session: Session, days: Iterable[date]) -> None:
    """Create the day partitions these days need (PostgreSQL; SQLite has one table)."""
    if not is_pg(session):
        return
    url = str(session.get_bind().engine.url)
    created: list[tuple[str, str]] = []
    for day in sorted(set(days)):
        key = (url, partition_name(day))
        if key in _partitions:
            continue
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        # IF NOT EXISTS is not safe against a concurrent CREATE (the loser fails on the catalog's
        # unique index), so creators of one partition queue on a lock of its own; the second
        # then finds the table once the first commits.
        session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": PARTITION_LOCK_BASE + day.toordinal()}
        )
        session.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {key[1]} PARTITION OF observation "
                f"FOR VALUES FROM ('{start.isoformat()}') "
                f"TO ('{(start + timedelta(days=1)).isoformat()}')"
            )
        )
        created.append(key)
    if created:
        # Remember them only once committed: a rolled-back batch takes its partitions with it.
        event.listen(session, "after_commit", lambda _s: _partitions.update(created), once=True)


def lock_for_ingest(session: Session) -> None:
    """Hold the rollup off while this transaction writes observations (PostgreSQL)."""
    if is_pg(session):
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": ROLLUP_LOCK})


def _bucket_pg(resolution: str, column: str = "phenomenon_time") -> str:
    unit = "minute" if resolution == "1m" else "hour"
    return f"date_trunc('{unit}', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def _upsert_pg(table: str, select_sql: str) -> str:
    return (
        f"INSERT INTO {table} (datastream_id, bucket, count, sum, min, max) {select_sql} "
        f"ON CONFLICT (datastream_id, bucket) DO UPDATE SET "
        f"count = {table}.count + excluded.count, sum = {table}.sum + excluded.sum, "
        f"min = LEAST({table}.min, excluded.min), max = GREATEST({table}.max, excluded.max)"
    )


def rollup(
    *,
    session: Session,
    max_rows: int = 1_000_000,
    fold_latest: bool = False,
    stored: aggregates.Stored | None = None,
    now: datetime | None = None,
) -> int:
    """Fold raw rows past the watermark into the 1m and 1h aggregates; returns rows folded.

    On SQLite the rows go into the open buckets held in memory (``sensing.aggregates``), and
    only the buckets that closed are written (``now``: the clock, past which the data may not
    close buckets); the rest of this docstring is PostgreSQL's way.

    One scan of the new rows groups them by minute into a temporary table; the 1m aggregates
    are upserted from it and the 1h ones from it regrouped (far fewer rows than the raw ones).
    ``fold_latest`` also moves datastreams' latest values (for ``ingest(update_latest=False)``).
    """
    pg = is_pg(session)
    if not pg:  # SQLite: open buckets in memory, each written when it closes
        low, high = aggregates.for_session(session).catch_up(
            session, max_rows, stored=stored, now=now
        )
        if fold_latest and high > low:
            _fold_latest(session, pg, low, high)
        return high - low
    return _rollup_pg(session, max_rows, fold_latest)


def _rollup_pg(session: Session, max_rows: int, fold_latest: bool) -> int:
    """PostgreSQL: fold the rows past the watermark into a temp table, upsert 1m and 1h."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ROLLUP_LOCK})
    mark = session.get(SensingWatermark, ROLLUP)
    if mark is None:
        mark = SensingWatermark(name=ROLLUP, value=0)
        session.add(mark)
        session.flush()
    low = mark.value
    top = session.scalar(text("SELECT max(id) FROM observation"))
    if top is None or top <= low:
        return 0
    high = min(int(top), low + max_rows)
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS sensing_fold (datastream_id int, "
            "bucket timestamptz, count int, sum float8, min float8, max float8) "
            "ON COMMIT DELETE ROWS"
        )
    )
    session.execute(text("DELETE FROM sensing_fold"))
    minute = _bucket_pg("1m")
    session.execute(
        text(
            f"INSERT INTO sensing_fold SELECT datastream_id, {minute}, count(result), "
            f"sum(result), min(result), max(result) FROM observation WHERE id > :low AND "
            f"id <= :high AND result IS NOT NULL GROUP BY datastream_id, {minute}"
        ),
        {"low": low, "high": high},
    )
    session.execute(text(_upsert_pg("obs_agg_1m", "SELECT * FROM sensing_fold")))
    hour = _bucket_pg("1h", "bucket")
    session.execute(
        text(
            _upsert_pg(
                "obs_agg_1h",
                f"SELECT datastream_id, {hour}, sum(count), sum(sum), min(min), max(max) "
                f"FROM sensing_fold GROUP BY datastream_id, {hour}",
            )
        )
    )
    session.execute(text("DELETE FROM sensing_fold"))
    if fold_latest:
        _fold_latest(session, True, low, high)
    mark.value = high
    session.flush()
    return high - low


# SQLite applies an upsert row by row, so a datastream met twice in one statement keeps its
# newest reading through the WHERE below: no GROUP BY first, whose sort was a third of the fold's
# time (10,000 rows: 9.7 against 6.6 ms). PostgreSQL refuses a second touch of a row in one
# statement, so it picks each datastream's newest first (DISTINCT ON).
LATEST_UPSERT = (
    "ON CONFLICT (datastream_id) DO UPDATE SET result = excluded.result, "
    "result_json = excluded.result_json, phenomenon_time = excluded.phenomenon_time "
    "WHERE sta_datastream_latest.phenomenon_time < excluded.phenomenon_time"
)


def fold_latest(*, session: Session, after_id: int) -> None:
    """Move each datastream's latest value forward from the rows stored after ``after_id``.

    The intake calls it in its own transaction, on the rows it has just inserted: one statement
    that the database runs over the id range, instead of 10,000 parameter rows from Python
    (the pipeline benchmark went from 29,500 to 47,000 readings/s at 1,000,000 readings).
    """
    _fold_latest(session, is_pg(session), after_id, 2**62)


def _fold_latest(session: Session, pg: bool, low: int, high: int) -> None:
    """Move latest values forward from the rows with ids in (low, high]."""

    if pg:
        newest = (
            "SELECT DISTINCT ON (datastream_id) datastream_id, result, result_json, "
            "phenomenon_time FROM observation WHERE id > :low AND id <= :high "
            "ORDER BY datastream_id, phenomenon_time DESC"
        )
    else:  # SQLite: every row, no GROUP BY (see LATEST_UPSERT)
        columns = "datastream_id, result, result_json, phenomenon_time"
        rows = recent.both(columns, "WHERE id > :low AND id <= :high", hint=" NOT INDEXED")
        newest = f"SELECT {columns} FROM {rows} WHERE true"
    session.execute(
        text(
            "INSERT INTO sta_datastream_latest (datastream_id, result, result_json, "
            f"phenomenon_time) {newest} {LATEST_UPSERT}"
        ),
        {"low": low, "high": high},
    )


@dataclass(frozen=True, slots=True)
class Purged:
    raw: int
    agg_1m: int
    agg_1h: int
    partitions_dropped: list[str]


def purge(*, session: Session, now: datetime, settings: Settings) -> Purged:
    """Drop what is past retention: raw rows (whole partitions on PostgreSQL), aggregates, ids."""
    # Never drop a day the intake still accepts readings for (its partition would be cached).
    raw_days = max(settings.sensing_raw_days, int(settings.sensing_max_past_days) + 2)
    raw_cut = now - timedelta(days=raw_days)
    dropped: list[str] = []
    raw = 0
    if is_pg(session):
        names = session.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'observation'"
            )
        ).all()
        cut_name = partition_name(raw_cut.date())
        url = str(session.get_bind().engine.url)
        for name in sorted(names):
            if name < cut_name:  # the whole day is older than the cut
                session.execute(text(f"DROP TABLE {name}"))
                _partitions.discard((url, name))
                dropped.append(name)
    else:
        raw = recent.delete_where(session, "phenomenon_time < :cut", {"cut": to_micros(raw_cut)})
    agg_1m = _delete(
        session, ObsAgg1m.__table__.c.bucket, now - timedelta(settings.sensing_agg_1m_days)
    )
    agg_1h = _delete(
        session, ObsAgg1h.__table__.c.bucket, now - timedelta(settings.sensing_agg_1h_days)
    )
    _delete(
        session,
        IngestMessage.__table__.c.received_at,
        now - timedelta(days=settings.sensing_message_id_days),
    )
    return Purged(raw, agg_1m, agg_1h, dropped)


def _delete(session: Session, column: Any, before: datetime) -> int:
    result = session.execute(column.table.delete().where(column < before))
    return int(getattr(result, "rowcount", 0) or 0)


def observations(
    *,
    session: Session,
    datastream_id: int,
    start: datetime,
    end: datetime,
    agg: Agg = "raw",
    limit: int = 100_000,
) -> list[dict[str, Any]]:
    """A datastream's readings in [start, end), raw or as 1m/1h aggregates, oldest first."""
    if agg == "raw":
        o = recent.READ_MODEL  # both tables
        rows = session.execute(
            select(o.phenomenon_time, o.result, o.result_json)
            .where(o.datastream_id == datastream_id)
            .where(o.phenomenon_time >= start, o.phenomenon_time < end)
            .order_by(o.phenomenon_time)
            .limit(limit)
        ).all()
        return [{"time": t, "result": r if r is not None else j} for t, r, j in rows]
    width = aggregates.MINUTE if agg == "1m" else aggregates.HOUR
    got = buckets(
        session=session, datastream_ids=[datastream_id], width=width, start=start, end=end
    )
    return [
        {
            "time": aggregates.as_time(b),
            "count": c,
            "mean": s / c if c else None,
            "min": lo,
            "max": hi,
        }
        for (_d, b), (c, s, lo, hi) in sorted(got.items())[:limit]
    ]


def buckets(
    *, session: Session, datastream_ids: list[int], width: int, start: datetime, end: datetime
) -> dict[tuple[int, int], aggregates.Agg]:
    """1-minute or 1-hour (``width`` µs) aggregates overlapping [start, end) of some datastreams.

    Keys are (datastream, bucket start in epoch µs), values (count, sum, min, max). Closed
    buckets come from the tables, open ones (SQLite) are computed from the raw rows: see
    ``sensing.aggregates``.
    """
    a = ObsAgg1m if width == aggregates.MINUTE else ObsAgg1h
    # Buckets overlapping [start, end): the one holding ``start`` counts too.
    w = width // 1_000_000
    first = datetime.fromtimestamp(int(start.timestamp()) // w * w, UTC)
    query = (
        select(a.datastream_id, a.bucket, a.count, a.sum, a.min, a.max)
        .where(a.datastream_id.in_(datastream_ids))
        .where(a.bucket >= first, a.bucket < end)
    )
    cut = aggregates.table_cut(session, width)
    if cut is not None:
        query = query.where(a.bucket < cut)
    out: dict[tuple[int, int], aggregates.Agg] = {
        (d, to_micros(b)): (c, s, lo, hi) for d, b, c, s, lo, hi in session.execute(query)
    }
    open_part = aggregates.read_buckets(
        session=session, datastream_ids=datastream_ids, width=width, start=start, end=end
    )
    if open_part:
        aggregates.merge(out, ((k, *v) for k, v in open_part.items()))
    return out


def latest_in_bbox(
    *,
    session: Session,
    min_lng: float,
    min_lat: float,
    max_lng: float,
    max_lat: float,
    limit: int = 200_000,
) -> list[dict[str, Any]]:
    """The latest value of every datastream inside the box (one index range on lat, lng).

    Read through the raw cursor: for a whole city (100,000 rows) SQLAlchemy's per-row result
    processing cost several times the query.
    """
    pg = is_pg(session)
    p = "%s" if pg else "?"
    cursor = raw_cursor(session)
    cursor.execute(
        "SELECT d.id, d.lat, d.lng, l.result, l.result_json, l.phenomenon_time "
        "FROM sta_datastream d LEFT JOIN sta_datastream_latest l ON l.datastream_id = d.id "
        f"WHERE d.lat >= {p} AND d.lat <= {p} AND d.lng >= {p} AND d.lng <= {p} LIMIT {p}",
        (min_lat, max_lat, min_lng, max_lng, limit),
    )
    out: list[dict[str, Any]] = []
    add = out.append
    for i, lat, lng, r, j, t in cursor.fetchall():
        if r is None and not pg and isinstance(j, str):  # psycopg parses JSON itself
            j = json.loads(j)
        if isinstance(t, int):
            t = from_micros(t)
        add(
            {
                "datastream_id": i,
                "lat": lat,
                "lng": lng,
                "result": r if r is not None else j,
                "phenomenon_time": t,
            }
        )
    return out

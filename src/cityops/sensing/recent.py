"""Recent readings (近期观测): a time-first table the store appends to, compacted into
``observation`` in datastream order (SQLite).

Why: ``observation`` is keyed (datastream, time) so a datastream's history is one index range,
but a batch of 10,000 readings over 100,000 datastreams lands on ~10,000 of that key's leaf
pages, and every one goes to the WAL at commit: at 5 million rows SQLite stored 92,000 rows/s
with no other work at all. ``observation_recent`` is keyed (time, datastream), so a batch appends
at one end; every ``sensing_recent_rows`` rows (or ``sensing_recent_seconds``) a *round* moves
them into ``observation`` in ``sensing_recent_steps`` transactions, one range of datastream ids
each, several readings of a datastream to a leaf page (``bench store_layout``: 140,000 rows/s).

What holds it together:

- *One id sequence.* ``observation_recent``'s AUTOINCREMENT counter hands out every id on
  SQLite; a row keeps its id when it moves, so id ranges (the open buckets, latest values) and
  ``@iot.id`` stay valid across a move. Nothing inserts into ``observation`` directly on SQLite.
- *One key.* Every row in ``observation`` is at or before the watermark ``compacted_time``, so a
  new reading later than it cannot repeat one there; only an older one is looked up in
  ``observation`` before it counts as new (``guard``). Unset means "look every reading up".
- *Readers read both:* ``both`` for SQL text, ``READ_MODEL`` for the ORM (STA, history);
  writers of one row (PATCH, DELETE) ``settle`` it into ``observation`` first.

On PostgreSQL the table exists and stays empty: readings go straight into the day partitions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, union_all
from sqlalchemy.orm import Session, aliased

from cityops.sensing.models import Observation, RecentObservation, to_micros
from cityops.settings import Settings

COLUMNS = "id, datastream_id, phenomenon_time, result_time, result, result_json, foi_id, parameters"
COMPACTED = "compacted_time"  # µs: every row in ``observation`` is at or before it
ROUND = "compact_round"  # the highest id the round under way moves (0: no round)
NEXT = "compact_next"  # the first datastream id the round's next step moves
DONE = "compact_done"  # the highest id the last finished round moved
STARTED = "compact_at"  # µs on the clock when the last round started
NEVER = 1 << 62  # a time no reading reaches: "look every reading up"

# The ORM's view of all readings: STA and history queries select from it.
READ_MODEL = aliased(
    Observation,
    union_all(select(*Observation.__table__.c), select(*RecentObservation.__table__.c)).subquery(
        "observation_all"
    ),
    name="observation_all",
)


def used(session: Session) -> bool:
    """Whether new readings go through the recent table (SQLite)."""
    return session.get_bind().dialect.name == "sqlite"


def both(columns: str, where: str = "", *, hint: str = "") -> str:
    """Both tables' rows as one subquery, ``where`` (named parameters) applied in each branch.

    ``hint`` (``" NOT INDEXED"``) keeps an id range on the rowid instead of the key."""
    return (
        f"(SELECT {columns} FROM observation{hint} {where} "
        f"UNION ALL SELECT {columns} FROM observation_recent{hint} {where})"
    )


def last_id(cursor: Any) -> int:
    """The largest observation id in either table (0 when there are none)."""
    cursor.execute(
        "SELECT max(coalesce((SELECT max(id) FROM observation), 0), "
        "coalesce((SELECT max(id) FROM observation_recent), 0))"
    )
    return int(cursor.fetchone()[0])


def _marks(cursor: Any) -> dict[str, int]:
    cursor.execute(
        "SELECT name, value FROM sensing_watermark WHERE name IN (?, ?, ?, ?, ?)",
        (COMPACTED, ROUND, NEXT, DONE, STARTED),
    )
    return {str(name): int(value) for name, value in cursor.fetchall()}


def _set(cursor: Any, marks: dict[str, int]) -> None:
    cursor.executemany(
        "INSERT INTO sensing_watermark (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        list(marks.items()),
    )


def guard(cursor: Any) -> int:
    """The time (µs) after which a reading cannot repeat one in ``observation``."""
    cursor.execute("SELECT value FROM sensing_watermark WHERE name = ?", (COMPACTED,))
    row = cursor.fetchone()
    return NEVER if row is None else int(row[0])


def cover(session: Session, when: datetime) -> None:
    """Move the watermark past ``when``: a row at that time is in ``observation`` now."""
    if not used(session):
        return
    cursor = _cursor(session)
    at = to_micros(when)
    if guard(cursor) < at:  # NEVER stays: it already looks every reading up
        _set(cursor, {COMPACTED: at})


def settle(session: Session, ids: Sequence[int]) -> None:
    """Move these rows into ``observation`` now (before the ORM changes or deletes them)."""
    if not ids or not used(session):
        return
    cursor = _cursor(session)
    where = {"ids": json.dumps(list(ids))}
    picked = "WHERE id IN (SELECT value FROM json_each(:ids))"
    newest = session.scalar(
        text(f"SELECT max(phenomenon_time) FROM observation_recent {picked}"), where
    )
    if newest is None:
        return
    if guard(cursor) < newest:
        _set(cursor, {COMPACTED: int(newest)})
    # No ON CONFLICT: a reading repeating one in ``observation`` fails as an ORM insert would.
    session.execute(
        text(
            f"INSERT INTO observation ({COLUMNS}) SELECT {COLUMNS} FROM observation_recent {picked}"
        ),
        where,
    )
    session.execute(text(f"DELETE FROM observation_recent {picked}"), where)


def due(*, session: Session, settings: Settings, now: datetime, idle: bool = False) -> bool:
    """Whether ``compact_step`` has work (a cheap read: the door asks before taking the writer).

    The door (``idle`` False) drives a round under way and starts one every
    ``sensing_recent_rows`` readings; the upkeep (``idle``) starts one when any readings have
    waited ``sensing_recent_seconds``, and finishes a round left that long (its door stopped).
    """
    if not used(session):
        return False
    cursor = _cursor(session)
    return _due(cursor, _marks(cursor), settings, to_micros(now), idle)


def _due(cursor: Any, marks: dict[str, int], settings: Settings, now: int, idle: bool) -> bool:
    waited = now - marks.get(STARTED, 0) >= settings.sensing_recent_seconds * 1_000_000
    if marks.get(ROUND, 0):
        return waited or not idle
    cursor.execute("SELECT coalesce(max(id), 0) FROM observation_recent")
    pending = int(cursor.fetchone()[0]) - marks.get(DONE, 0)
    return pending > 0 and (pending >= settings.sensing_recent_rows or (idle and waited))


def compact_step(*, session: Session, settings: Settings, now: datetime, idle: bool = False) -> int:
    """One step of compaction in the caller's transaction, if ``due``; the rows moved.

    A round moves every reading up to the highest id when it started, one range of datastream
    ids a step (``sensing_recent_steps`` short transactions instead of one long one), each
    range in (datastream, time) order so readings of a datastream share leaf pages.
    """
    if not used(session):
        return 0
    cursor = _cursor(session)
    marks = _marks(cursor)
    clock = to_micros(now)
    if not _due(cursor, marks, settings, clock, idle):
        return 0
    high, low = marks.get(ROUND, 0), marks.get(NEXT, 0)
    if high == 0:
        high, low = _start(cursor, marks, clock), 0
    cursor.execute("SELECT coalesce(max(id), 0) FROM sta_datastream")
    top = int(cursor.fetchone()[0])  # a datastream made during the round counts too
    end = low + max(1, -(-(top + 1) // settings.sensing_recent_steps))
    last = end > top  # the last step takes every id from ``low`` up
    where = "WHERE id <= :high AND datastream_id >= :low"
    if not last:
        where += " AND datastream_id < :end"
    args = {"high": high, "low": low, "end": end}
    cursor.execute(
        f"INSERT INTO observation ({COLUMNS}) SELECT {COLUMNS} FROM observation_recent {where} "
        "ORDER BY datastream_id, phenomenon_time ON CONFLICT DO NOTHING",
        args,
    )
    cursor.execute(f"DELETE FROM observation_recent {where}", args)
    moved = int(cursor.rowcount)
    _set(cursor, {ROUND: 0, DONE: high} if last else {ROUND: high, NEXT: end})
    return moved


def _start(cursor: Any, marks: dict[str, int], now: int) -> int:
    """Open a round: its id cut, with the watermark moved past every reading it may move."""
    cursor.execute("SELECT max(id), max(phenomenon_time) FROM observation_recent")
    high, newest = cursor.fetchone()
    mark = marks.get(COMPACTED)
    if mark is None:  # the first round: rows stored before the recent table (an older database)
        cursor.execute("SELECT max(phenomenon_time) FROM observation")
        mark = cursor.fetchone()[0]
    covered = int(newest) if mark is None else max(int(newest), int(mark))
    _set(cursor, {COMPACTED: covered, ROUND: int(high), NEXT: 0, STARTED: now})
    return int(high)


def _cursor(session: Session) -> Any:
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]


def delete_where(session: Session, where: str, params: dict[str, Any]) -> int:
    """Delete matching readings from both tables (retention, a datastream's deletion)."""
    total = 0
    for table in ("observation", "observation_recent"):
        result = session.execute(text(f"DELETE FROM {table} WHERE {where}"), params)
        total += int(getattr(result, "rowcount", 0) or 0)
    return total

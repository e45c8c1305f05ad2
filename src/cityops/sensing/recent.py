"""Recent readings (近期观测): time-first tables the store appends to, compacted into
``observation`` one table at a time (SQLite).

Why: ``observation`` is keyed (datastream, time) so a datastream's history is one index range,
but a batch of 10,000 readings over 100,000 datastreams lands on ~10,000 of that key's leaf
pages, and every one goes to the WAL at commit: at 5 million rows SQLite stored 47,700 rows/s
beside a 5.5 µs door (``bench store_layout``). New readings go instead to
``observation_recent_<k>``, ``k`` = (datastream // ``RECENT_BLOCK``) % ``RECENT_PARTS``, each
keyed (time, datastream) so a batch appends at one end. Every ``sensing_recent_rows`` /
``RECENT_PARTS`` readings a *step* moves one whole table into ``observation`` in (datastream,
time) order — its blocks are 1/10 of the key, several readings of a datastream to a leaf page —
and empties it in one cheap ``DELETE``. ``bench store_layout`` (3M rows, no door, back to back):
83,800–89,500 rows/s, the longest step 287–311 ms; one shared recent table moved a range of
datastreams a step: 66,400–73,300/s, the longest step ~600 ms.

What holds it together:

- *One id sequence.* ``take_ids`` hands out ids from the ``observation_id`` mark (never
  reused, as AUTOINCREMENT); a row keeps its id when it moves, so id ranges (the open
  buckets, latest values) and ``@iot.id`` stay valid across a move.
- *One key.* A datastream's readings always go to the same recent table, whose key catches a
  repeat there; every row in ``observation`` of that table's datastreams is at or before its
  watermark ``compacted_time_<k>``, so a new reading later than it cannot repeat one there,
  and only an older one is looked up in ``observation`` before it counts as new (``guard``).
- *Readers read all:* ``both`` for SQL text, ``READ_MODEL`` for the ORM (STA, history);
  writers of one row (PATCH, DELETE) ``settle`` it into ``observation`` first.

On PostgreSQL the tables exist and stay empty: readings go straight into the day partitions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, union_all
from sqlalchemy.orm import Session, aliased

from cityops.sensing.models import RECENT_PARTS, RECENT_TABLES, Observation, to_micros
from cityops.settings import Settings
from cityops.store.engine import raw_cursor

COLUMNS = "id, datastream_id, phenomenon_time, result_time, result, result_json, foi_id, parameters"
TABLES = tuple(t.__tablename__ for t in RECENT_TABLES)  # type: ignore[attr-defined]
IDS = "observation_id"  # the last id handed out
# µs, per recent table: no row of that table's datastreams in ``observation`` is later than it
COMPACTED = tuple(f"compacted_time_{part}" for part in range(RECENT_PARTS))
NEXT = "compact_next"  # the recent table the next step moves
STEP_ID = "compact_step_id"  # ``observation_id`` when the last step ran
STEP_AT = "compact_step_at"  # µs on the clock when the last step ran
IDLE_LEFT = "compact_idle_left"  # steps left in the upkeep's cycle over every table
BEFORE_ALL = -(1 << 62)  # a watermark below every time: nothing in ``observation`` yet

# The ORM's view of all readings: STA and history queries select from it.
READ_MODEL = aliased(
    Observation,
    union_all(
        select(*Observation.__table__.c),
        *(select(*t.__table__.c) for t in RECENT_TABLES),  # type: ignore[attr-defined]
    ).subquery("observation_all"),
    name="observation_all",
)


def used(session: Session) -> bool:
    """Whether new readings go through the recent tables (SQLite)."""
    return session.get_bind().dialect.name == "sqlite"


def both(columns: str, where: str = "", *, hint: str = "", tables: bool = False) -> str:
    """All readings' rows as one subquery, ``where`` (named or ``?`` parameters, repeated by
    the caller per table: ``len(TABLES) + 1``) applied in each branch. ``hint`` (``" NOT
    INDEXED"``) keeps an id range on the rowid instead of the key; ``tables``: the recent
    tables only."""
    names = TABLES if tables else ("observation", *TABLES)
    selects = (f"SELECT {columns} FROM {table}{hint} {where}" for table in names)
    return "(" + " UNION ALL ".join(selects) + ")"


def last_id(cursor: Any) -> int:
    """The largest observation id stored in any table (0 when there are none)."""
    tops = ", ".join(f"coalesce((SELECT max(id) FROM {t}), 0)" for t in ("observation", *TABLES))
    cursor.execute(f"SELECT max({tops})")
    return int(cursor.fetchone()[0])


def take_ids(cursor: Any, count: int) -> int:
    """Reserve ``count`` ids in the writer's transaction; the first is the value returned + 1."""
    marks = _marks(cursor)
    before = marks[IDS] if IDS in marks else last_id(cursor)
    _set(cursor, {IDS: before + count})
    return before


def _marks(cursor: Any) -> dict[str, int]:
    cursor.execute(
        "SELECT name, value FROM sensing_watermark WHERE name IN (?, ?, ?, ?, ?)",
        (IDS, NEXT, STEP_ID, STEP_AT, IDLE_LEFT),
    )
    return {str(name): int(value) for name, value in cursor.fetchall()}


def _set(cursor: Any, marks: dict[str, int]) -> None:
    cursor.executemany(
        "INSERT INTO sensing_watermark (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        list(marks.items()),
    )


def guard(cursor: Any) -> list[int]:
    """Per recent table, the time (µs) after which a reading of its datastreams cannot repeat
    one in ``observation``. In the writer's transaction: the first call on a database sets them
    from what ``observation`` holds (one scan, once; an older database's readings)."""
    marks = ", ".join("?" * RECENT_PARTS)
    cursor.execute(f"SELECT name, value FROM sensing_watermark WHERE name IN ({marks})", COMPACTED)
    found = {str(name): int(value) for name, value in cursor.fetchall()}
    if len(found) < RECENT_PARTS:
        cursor.execute("SELECT max(phenomenon_time) FROM observation")
        newest = cursor.fetchone()[0]
        start = BEFORE_ALL if newest is None else int(newest)
        missing = {name: start for name in COMPACTED if name not in found}
        _set(cursor, missing)
        found |= missing
    return [found[name] for name in COMPACTED]


def cover(session: Session, when: datetime | int) -> None:
    """Move the watermarks past ``when``: a row at that time is in ``observation`` now (a
    single reading written or moved by hand: rare, so every table's mark moves)."""
    if not used(session):
        return
    cursor = raw_cursor(session)
    at = when if isinstance(when, int) else to_micros(when)
    marks = guard(cursor)
    _set(cursor, {name: at for name, mark in zip(COMPACTED, marks, strict=True) if mark < at})


def settle(session: Session, ids: Sequence[int]) -> None:
    """Move these rows into ``observation`` now (before the ORM changes or deletes them)."""
    if not ids or not used(session):
        return
    where = {"ids": json.dumps(list(ids))}
    picked = "WHERE id IN (SELECT value FROM json_each(:ids))"
    newest = session.scalar(text(f"SELECT max(phenomenon_time) FROM {both('*', picked)}"), where)
    if newest is None:
        return
    cover(session, int(newest))
    for table in TABLES:  # no ON CONFLICT: a repeat of a stored reading fails as an insert would
        session.execute(
            text(f"INSERT INTO observation ({COLUMNS}) SELECT {COLUMNS} FROM {table} {picked}"),
            where,
        )
        session.execute(text(f"DELETE FROM {table} {picked}"), where)


def due(*, session: Session, settings: Settings, now: datetime, idle: bool = False) -> bool:
    """Whether ``compact_step`` has work (a cheap read: the door asks before taking the writer).

    The door (``idle`` False) takes a step every ``sensing_recent_rows`` / ``RECENT_PARTS``
    readings. The upkeep (``idle``) moves every table, a step each, once readings have waited
    ``sensing_recent_seconds`` since the last step (its first sight of them starts that clock).
    """
    if not used(session):
        return False
    cursor = raw_cursor(session)
    return _due(cursor, _marks(cursor), settings, to_micros(now), idle)


def _due(cursor: Any, marks: dict[str, int], settings: Settings, now: int, idle: bool) -> bool:
    if not idle:
        stored = marks.get(IDS, 0) - marks.get(STEP_ID, 0)
        return stored >= max(1, settings.sensing_recent_rows // RECENT_PARTS)
    if marks.get(IDLE_LEFT, 0) > 0:
        return True  # a cycle under way
    cursor.execute(" UNION ALL ".join(f"SELECT 1 FROM (SELECT 1 FROM {t} LIMIT 1)" for t in TABLES))
    if cursor.fetchone() is None:
        return False
    return STEP_AT not in marks or now - marks[STEP_AT] >= settings.sensing_recent_seconds * 1e6


def compact_step(*, session: Session, settings: Settings, now: datetime, idle: bool = False) -> int:
    """Move the next recent table into ``observation``, if ``due``, in the caller's
    transaction; the rows moved (0 also when a step moved an empty table)."""
    if not used(session):
        return 0
    cursor = raw_cursor(session)
    marks = _marks(cursor)
    clock = to_micros(now)
    if not _due(cursor, marks, settings, clock, idle):
        return 0
    later: dict[str, int] = {}
    if idle:
        if STEP_AT not in marks:
            _set(cursor, {STEP_AT: clock})  # readings wait ``sensing_recent_seconds`` from here
            return 0
        later[IDLE_LEFT] = (marks.get(IDLE_LEFT, 0) or RECENT_PARTS) - 1
    part = marks.get(NEXT, 0) % RECENT_PARTS
    moved = _move(cursor, part)
    later |= {NEXT: (part + 1) % RECENT_PARTS, STEP_ID: marks.get(IDS, 0), STEP_AT: clock}
    _set(cursor, later)
    return moved


def _move(cursor: Any, part: int) -> int:
    """One recent table into ``observation`` (datastream order), its watermark past it first."""
    table = TABLES[part]
    cursor.execute(f"SELECT max(phenomenon_time) FROM {table}")
    newest = cursor.fetchone()[0]
    if newest is None:
        return 0
    mark = guard(cursor)[part]
    _set(cursor, {COMPACTED[part]: max(int(newest), mark)})
    cursor.execute(
        f"INSERT INTO observation ({COLUMNS}) SELECT {COLUMNS} FROM {table} WHERE true "
        "ORDER BY datastream_id, phenomenon_time ON CONFLICT DO NOTHING"
    )
    cursor.execute(f"DELETE FROM {table}")
    return int(cursor.rowcount)


def delete_where(session: Session, where: str, params: dict[str, Any]) -> int:
    """Delete matching readings from every table (retention, a datastream's deletion)."""
    total = 0
    for table in ("observation", *TABLES):
        result = session.execute(text(f"DELETE FROM {table} WHERE {where}"), params)
        total += int(getattr(result, "rowcount", 0) or 0)
    return total

"""Open 1-minute and 1-hour buckets held in memory on SQLite, each written once when it closes.

Folding every batch into ``obs_agg_1m``/``obs_agg_1h`` (keys ``(datastream, bucket)``) took a
batch of 10,000 readings onto ~10,000 leaf pages of each table: about as much WAL and checkpoint
traffic as the readings themselves. Here the ingesting process folds the new raw rows into
dictionaries instead, and writes a bucket when the data has moved past it.

**Closing is driven by the data, not the clock**: ``hwm`` is the newest phenomenon time folded
(but never past the caller's clock, so one device dated tomorrow does not
close today's buckets and turn every later reading into a late one);
minutes before the one preceding it are closed (``cut_1m``), and hours before ``cut_1m``'s hour
(``cut_1h``). A reading for a closed bucket (a late one) is held as a delta and merged
(``count + count``, ``min(min, min)``...) at the next flush, so a bucket may be written more
than once only when late readings reach it.

**What the tables hold** (all three marks in ``sensing_watermark``, written with each flush in
the same transaction): ``obs_agg_1m`` = the raw rows with ``id <= agg_id`` and minute before
``cut_1m``; ``obs_agg_1h`` likewise with hour before ``cut_1h``. Everything else is in memory:
the 1-minute deltas of rows past ``agg_id`` or at/after ``cut_1m``, and the 1-hour deltas of
minutes already written whose hour is still open. That is what :meth:`OpenBuckets.load` rebuilds
from the database after a restart (raw rows past ``agg_id`` by rowid, raw rows from ``cut_1m``
per datastream on the unique index, 1-minute rows from ``cut_1h``), so a crash loses nothing.

**Readers** (``timeseries.observations``, ``hourly``) take closed buckets from the tables and
compute the open ones from the raw rows (``read_buckets``); late readings for a closed bucket
show once flushed. PostgreSQL keeps the background rollup (several writers there), and has no
marks: its readers see the tables only.

Before it touches memory, every write transaction compares the marks in the database with the
ones it last saw: another process's flush (or a rolled-back transaction of ours) makes it reload,
so two ingesting processes never write the same delta twice.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from cityops.sensing import recent
from cityops.sensing.models import from_micros, to_micros
from cityops.store import values
from cityops.store.engine import raw_cursor

MINUTE = 60_000_000  # EpochTime: microseconds
HOUR = 3_600_000_000
MARKS = ("agg_id", "agg_1m", "agg_1h")
Key = tuple[int, int]  # (datastream, bucket start in µs)
# (count, sum, min, max). Tuples, not lists: the garbage collector stops tracking a tuple of
# numbers, and a full collection over 200,000 open buckets held as lists took ~25 ms, a pause
# a fan command could land in.
Agg = tuple[float, float, float, float]
Rows = Iterable[tuple[int, int, float, float, float, float]]  # (datastream, bucket, *Agg)
# The open minutes: minute → datastream → deltas. Nested rather than keyed (datastream,
# minute): a batch's readings then look up small int keys of one minute's table, neighbours
# in memory for neighbouring ids, where tuple keys scattered every lookup over ~200,000
# entries (10,000 readings a batch: 3.7 against 1.0 ms in isolation).
Minutes = dict[int, dict[int, Agg]]
K = TypeVar("K")  # a bucket's key: (datastream, bucket) or, within a minute, the datastream


@dataclass(frozen=True, slots=True)
class Stored:
    """Rows just inserted, every one: ids ``after + 1`` .. ``after + len(rows)`` (SQLite)."""

    after: int
    rows: Sequence[Sequence[Any]]  # (datastream, time µs, numeric result or None, ...)


def merge(into: dict[K, Agg], rows: Iterable[tuple[K, float, float, float, float]]) -> None:
    """Fold (key, count, sum, min, max) rows into ``into``."""
    for k, c, s, lo, hi in rows:
        e = into.get(k)
        if e is None:
            into[k] = (c, s, lo, hi)
        else:
            into[k] = (e[0] + c, e[1] + s, lo if lo < e[2] else e[2], hi if hi > e[3] else e[3])


def keyed(rows: Rows) -> Iterator[tuple[Key, float, float, float, float]]:
    """(datastream, bucket, count, sum, min, max) rows keyed for ``merge``."""
    for ds, bucket, c, s, lo, hi in rows:
        yield (ds, bucket), c, s, lo, hi


def merge_minutes(into: Minutes, rows: Rows) -> None:
    """Fold (datastream, minute, count, sum, min, max) rows into the open minutes."""
    by_minute: dict[int, list[tuple[int, float, float, float, float]]] = {}
    for ds, minute, c, s, lo, hi in rows:
        by_minute.setdefault(minute, []).append((ds, c, s, lo, hi))
    for minute, some in by_minute.items():
        merge(into.setdefault(minute, {}), some)


def split(deltas: dict[Key, Agg], cut: int) -> dict[Key, Agg]:
    """Remove and return the deltas of buckets before ``cut``."""
    closed = {k: v for k, v in deltas.items() if k[1] < cut}
    for k in closed:
        del deltas[k]
    return closed


def split_minutes(minutes: Minutes, cut: int) -> dict[Key, Agg]:
    """Remove and return the deltas of minutes before ``cut``, keyed (datastream, minute)."""
    closed = [minute for minute in minutes if minute < cut]
    return {(ds, minute): v for minute in closed for ds, v in minutes.pop(minute).items()}


def cuts_for(hwm: int) -> tuple[int, int]:
    """The minute before the newest one stays open; hours close with the minutes."""
    cut_1m = hwm - hwm % MINUTE - MINUTE
    return cut_1m, cut_1m - cut_1m % HOUR


def read_marks(session: Session) -> dict[str, int]:
    cur = raw_cursor(session)
    cur.execute(
        "SELECT name, value FROM sensing_watermark WHERE name IN (?, ?, ?, ?)", (*MARKS, "rollup")
    )
    return {name: int(value) for name, value in cur.fetchall()}


_GROUP = "count(result), sum(result), min(result), max(result)"
_RAW = "datastream_id, phenomenon_time, result"  # the raw columns the buckets read


class OpenBuckets:
    """One SQLite database's open buckets in this process (``for_session``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.m1: Minutes = {}  # 1-minute deltas not yet written
        self.h1: dict[Key, Agg] = {}  # 1-hour deltas of minutes written, hour open
        self.seen = -1  # observation ids <= seen are folded in; -1: not loaded
        self.marks: dict[str, int] = {}
        self.hwm = 0
        self.late = False  # a delta for a closed minute waits to be written
        self.valid = True
        self.dirty: object | None = None  # the DBAPI connection whose transaction folded last

    # -- consistency with the database -------------------------------------------------------
    def _ensure(self, session: Session) -> int:
        """Reload when not loaded, after a rolled-back transaction, or another writer's flush.

        Returns the id after which rows were folded in by this call (the reload's or none).
        """
        marks = read_marks(session)
        low = self.seen
        if self.seen < 0 or not self.valid or marks != self.marks:
            self.load(session, marks)
            self.valid = True
            low = self.marks["agg_id"]
        # Memory now runs ahead of the file until this connection commits.
        self.dirty = session.connection().connection.dbapi_connection
        return low

    def _on_commit(self, conn: Any) -> None:
        if conn.connection.dbapi_connection is self.dirty:
            self.dirty = None

    def _on_rollback(self, conn: Any, *_savepoint: Any) -> None:
        """Engine events fire before the DBAPI rollback, so before the next writer can begin."""
        if conn.connection.dbapi_connection is self.dirty:
            self.valid, self.dirty = False, None

    def load(self, session: Session, marks: dict[str, int]) -> None:
        """Rebuild the open buckets from the raw rows and the 1-minute table (see module doc)."""
        cur = raw_cursor(session)
        if "agg_id" not in marks:  # first use; aggregates a watermark rollup wrote before
            mark = marks.get("rollup", 0)
            c1m = c1h = 0
            if mark:
                cur.execute("SELECT max(bucket) FROM obs_agg_1m")
                c1m = (cur.fetchone()[0] or -MINUTE) + MINUTE
                cur.execute("SELECT max(bucket) FROM obs_agg_1h")
                c1h = (cur.fetchone()[0] or -HOUR) + HOUR
            marks = {**marks, "agg_id": mark, "agg_1m": c1m, "agg_1h": c1h}
            _write_marks(cur, marks)
        mark, c1m, c1h = marks["agg_id"], marks["agg_1m"], marks["agg_1h"]
        top = recent.last_id(cur)
        self.m1, self.h1, self.hwm, self.late = {}, {}, 0, False
        minute = f"(o.phenomenon_time / {MINUTE}) * {MINUTE}"
        rows = recent.both(_RAW, "WHERE id > :low AND id <= :high", hint=" NOT INDEXED")
        cur.execute(
            f"SELECT o.datastream_id, {minute}, {_GROUP}, max(o.phenomenon_time) "
            f"FROM {rows} AS o WHERE o.result IS NOT NULL GROUP BY 1, 2",
            {"low": mark, "high": top},
        )
        self._fold_rows(cur.fetchall())
        cur.execute(  # per datastream on the unique index: only the open minutes
            f"SELECT o.datastream_id, {minute}, {_GROUP}, max(o.phenomenon_time) "
            "FROM sta_datastream AS d CROSS JOIN observation AS o ON o.datastream_id = d.id "
            "AND o.phenomenon_time >= :cut WHERE o.id <= :mark AND o.result IS NOT NULL "
            "GROUP BY 1, 2 UNION ALL "
            f"SELECT o.datastream_id, {minute}, {_GROUP}, max(o.phenomenon_time) FROM "
            + recent.both(_RAW, "WHERE phenomenon_time >= :cut AND id <= :mark", tables=True)
            + " AS o WHERE o.result IS NOT NULL GROUP BY 1, 2",
            {"cut": c1m, "mark": mark},
        )
        self._fold_rows(cur.fetchall())
        cur.execute(
            f"SELECT a.datastream_id, (a.bucket / {HOUR}) * {HOUR}, sum(a.count), sum(a.sum), "
            "min(a.min), max(a.max) FROM sta_datastream AS d CROSS JOIN obs_agg_1m AS a "
            "ON a.datastream_id = d.id AND a.bucket >= ? AND a.bucket < ? GROUP BY 1, 2",
            (c1h, c1m),
        )
        merge(self.h1, keyed(cur.fetchall()))
        self.late = any(minute < c1m for minute in self.m1)
        self.seen, self.marks = top, marks

    def _fold_rows(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        merge_minutes(self.m1, (r[:6] for r in rows))
        self.hwm = max(self.hwm, max(r[6] for r in rows))

    # -- the write path ----------------------------------------------------------------------
    def catch_up(
        self,
        session: Session,
        max_rows: int = 1 << 62,
        *,
        stored: Stored | None = None,
        now: datetime | None = None,
    ) -> tuple[int, int]:
        """Fold the raw rows stored since the last call, write the buckets that closed.

        Returns the id range ``(low, high]`` folded. Call it in the transaction that stored
        the rows (the door) or in one of its own (``timeseries.rollup``). ``stored`` is what the
        caller has just inserted, all of it (ids after ``stored.after``): folded from memory
        instead of read back, when nothing else was stored since the last fold. ``now``: the
        caller's clock, a ceiling on how far the data may close buckets.
        """
        cur = raw_cursor(session)  # begins the transaction: the writer first, then the lock
        with self.lock:
            low = self._ensure(session)
            if stored is not None and stored.after == self.seen:
                self._fold_stored(stored.rows)
                self.seen += len(stored.rows)
            else:
                self._read_back(cur, max_rows)
            high = self.seen
            hwm = self.hwm if now is None else min(self.hwm, to_micros(now))
            c1m, c1h = cuts_for(hwm)
            if c1m > self.marks["agg_1m"] or self.late:
                self._flush(cur, max(c1m, self.marks["agg_1m"]), max(c1h, self.marks["agg_1h"]))
            return low, high

    def _read_back(self, cur: Any, max_rows: int) -> None:
        start = self.seen
        high = min(recent.last_id(cur), start + max_rows)
        if high <= start:
            return
        rows = recent.both(_RAW, "WHERE id > :low AND id <= :high", hint=" NOT INDEXED")
        cur.execute(
            f"SELECT datastream_id, (phenomenon_time / {MINUTE}) * {MINUTE} AS m, "
            f"{_GROUP}, max(phenomenon_time) FROM {rows} "
            "WHERE result IS NOT NULL GROUP BY 1, 2",
            {"low": start, "high": high},
        )
        rows = cur.fetchall()
        self._fold_rows(rows)
        c1m = self.marks["agg_1m"]
        if not self.late and any(r[1] < c1m for r in rows):
            self.late = True
        self.seen = high

    def _fold_stored(self, rows: Sequence[Sequence[Any]]) -> None:
        """(datastream, time µs, numeric result or None, ...) rows into the 1-minute deltas
        (a batch's rows come in time order per recent table: the minute changes seldom)."""
        m1, hwm, first = self.m1, self.hwm, 1 << 62
        start = end = 0  # the current minute [start, end) and its deltas
        deltas: dict[int, Agg] = {}
        for row in rows:
            r = row[2]
            if r is None:
                continue
            t = row[1]
            if not start <= t < end:
                start = t - t % MINUTE
                end = start + MINUTE
                deltas = m1.setdefault(start, {})
            ds = row[0]
            e = deltas.get(ds)
            if e is None:
                deltas[ds] = (1, r, r, r)
            else:
                deltas[ds] = (e[0] + 1, e[1] + r, r if r < e[2] else e[2], r if r > e[3] else e[3])
            if t > hwm:
                hwm = t
            if t < first:
                first = t
        self.hwm = hwm
        if first < self.marks["agg_1m"]:
            self.late = True

    def _flush(self, cur: Any, c1m: int, c1h: int) -> None:
        closed = split_minutes(self.m1, c1m)
        _upsert(cur, "obs_agg_1m", closed)
        merge(self.h1, (((d, b - b % HOUR), *v) for (d, b), v in closed.items()))
        _upsert(cur, "obs_agg_1h", split(self.h1, c1h))
        self.marks = {**self.marks, "agg_id": self.seen, "agg_1m": c1m, "agg_1h": c1h}
        _write_marks(cur, self.marks)
        self.late = False


def _upsert(cur: Any, table: str, deltas: dict[Key, Agg]) -> None:
    """Add the buckets' deltas to ``table``, a chunk of rows a statement (``store.values``)."""
    if not deltas:
        return
    rows = sorted((d, b, int(v[0]), v[1], v[2], v[3]) for (d, b), v in deltas.items())
    values.execute(cur, partial(_upsert_sql, table), rows)


@cache
def _upsert_sql(table: str, size: int) -> str:
    return (
        f"INSERT INTO {table} (datastream_id, bucket, count, sum, min, max) "
        f"SELECT * FROM {values.rows_list(size, 6)} WHERE true "
        f"ON CONFLICT (datastream_id, bucket) DO UPDATE SET "
        f"count = {table}.count + excluded.count, sum = {table}.sum + excluded.sum, "
        f"min = MIN({table}.min, excluded.min), max = MAX({table}.max, excluded.max)"
    )


def _write_marks(cur: Any, marks: dict[str, int]) -> None:
    cur.executemany(
        "INSERT INTO sensing_watermark (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [(name, marks[name]) for name in MARKS],
    )


_registry: weakref.WeakKeyDictionary[Engine, OpenBuckets] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def for_session(session: Session) -> OpenBuckets:
    """The open buckets of the session's database (SQLite), one set per engine."""
    engine = session.get_bind().engine
    with _registry_lock:
        found = _registry.get(engine)
        if found is None:
            found = _registry[engine] = OpenBuckets()
            event.listen(engine, "commit", found._on_commit)
            event.listen(engine, "rollback", found._on_rollback)
            event.listen(engine, "rollback_savepoint", found._on_rollback)
        return found


def forget(session: Session) -> None:
    """Rebuild the open buckets at the next fold (raw rows were deleted in this transaction)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    buckets = for_session(session)
    with buckets.lock:
        buckets.valid = False


# -- readers ---------------------------------------------------------------------------------
def read_buckets(
    *, session: Session, datastream_ids: list[int], width: int, start: datetime, end: datetime
) -> dict[Key, Agg] | None:
    """Buckets of ``width`` µs overlapping [start, end) not (yet) in the tables; None on PG.

    The open part: raw rows from the cut, plus (for hours) the 1-minute rows between the
    hour's cut and the minute's.
    """
    if session.get_bind().dialect.name != "sqlite" or not datastream_ids:
        return None
    marks = read_marks(session)
    c1m, c1h = marks.get("agg_1m", 0), marks.get("agg_1h", 0)
    cut = c1m if width == MINUTE else max(c1m, c1h)
    lo, hi = to_micros(start), to_micros(end)
    lo -= lo % width
    out: dict[Key, Agg] = {}
    cur = raw_cursor(session)
    marks_ = ", ".join("?" * len(datastream_ids))
    if width == HOUR and c1m > c1h:
        cur.execute(
            f"SELECT datastream_id, (bucket / {HOUR}) * {HOUR}, sum(count), sum(sum), min(min), "
            f"max(max) FROM obs_agg_1m WHERE datastream_id IN ({marks_}) AND bucket >= ? "
            "AND bucket < ? AND bucket >= ? AND bucket < ? GROUP BY 1, 2",
            (*datastream_ids, c1h, c1m, lo, hi),
        )
        merge(out, keyed(cur.fetchall()))
    where = (
        f"WHERE datastream_id IN ({marks_}) AND phenomenon_time >= ? "
        "AND phenomenon_time >= ? AND phenomenon_time < ? AND result IS NOT NULL"
    )
    cur.execute(
        f"SELECT datastream_id, (phenomenon_time / {width}) * {width}, {_GROUP} "
        f"FROM {recent.both(_RAW, where)} GROUP BY 1, 2",
        (*datastream_ids, cut, lo, hi) * (len(recent.TABLES) + 1),
    )
    merge(out, keyed(cur.fetchall()))
    return out


def table_cut(session: Session, width: int) -> datetime | None:
    """Buckets from here on are not read from the table (SQLite); None: all are (PostgreSQL)."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    marks = read_marks(session)
    return from_micros(marks.get("agg_1m" if width == MINUTE else "agg_1h", 0))


def as_time(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1e6, UTC)

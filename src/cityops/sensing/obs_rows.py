"""Observation rows as the databases take them, made column by column before the transaction.

``prepare`` turns a batch of validated readings into the insert's parameters: for SQLite, per
recent table, multi-row ``VALUES`` lists (``store.values``) into ``observation_recent_<k>``, the
rows sorted by (time, datastream) so they append at the end of its key. The door makes them
before it opens its transaction (``sensing.door.take_in``), so SQLite's one writer is held only
for SQLite's own work. The batch is split into columns once (``zip``) and each step runs over a
column in C: a Python loop per reading in each step was a third of the store's time.

A chunk of rows is one statement, which holds the GIL once, where ``executemany`` gives it up and
takes it back for every row, so a busy thread beside it (MQTT decoding, HTTP, the door) cut
``executemany`` to 16,000 rows/s against 172,000. Bound parameters replaced one JSON text per
table (``json_each``): SQLite parsed each element again per column, and ``json.dumps`` spent most
of its time on the floats' ``repr``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from itertools import repeat
from operator import floordiv, itemgetter, sub, truediv
from typing import Any

from cityops.sensing.models import EPOCH, MICROSECOND, RECENT_BLOCK, RECENT_PARTS, to_micros
from cityops.sensing.validate import Numbers, Reading
from cityops.store import values

_KINDS = {  # the row's width → its columns: numbers only, with a JSON result, with everything
    3: ("result",),
    4: ("result", "result_json"),
    7: ("result", "result_json", "result_time", "parameters", "foi_id"),
}
_TIME_FIRST = itemgetter(1, 0)  # the recent tables' key order: a batch appends at the end


@cache
def _insert(width: int, part: int, size: int) -> str:
    """The insert of ``size`` rows (offset, datastream, time µs, result, ...) into recent table
    ``part``. Parameters: the first id, the rows, then the table's compaction watermark — a
    reading later than it cannot repeat one in ``observation``; an older one is looked up there
    first (``sensing.recent``). A row's id is the first id plus its offset in ``Rows.sent``."""
    names = ", ".join(("datastream_id", "phenomenon_time", *_KINDS[width]))
    picked = ", ".join(f"column{i}" for i in range(2, width + 2))
    return (
        f"INSERT INTO observation_recent_{part} (id, {names}) SELECT ? + column1, {picked} "
        f"FROM {values.rows_list(size, width + 1)} WHERE column3 > ? OR NOT EXISTS "
        "(SELECT 1 FROM observation AS o WHERE o.datastream_id = column2 "
        "AND o.phenomenon_time = column3) ON CONFLICT DO NOTHING"
    )


@dataclass(slots=True)
class Rows:
    """A batch ready to insert: ``readings`` unique by (datastream, time), the first of a repeat
    kept, in the batch's order; ``sent``: the parameter rows (datastream, time µs, result, ...)
    in the order SQLite inserts them, so in observation id order; ``statements``: per chunk its
    SQL, its rows' parameters (each row led by its offset in ``sent``), how many rows and its
    recent table."""

    readings: list[Reading]
    sent: list[tuple[Any, ...]] = field(default_factory=list)
    statements: list[tuple[str, list[Any], int, int]] = field(default_factory=list)
    # ``readings``' datastreams, times in µs, results and JSON results, for the batch event
    columns: tuple[Sequence[int], Sequence[int], Sequence[Any], Sequence[Any]] | None = None

    def add(self, rows: Iterable[tuple[Any, ...]], width: int, one_time: bool) -> None:
        """Rows of one width (datastream, time µs, ...), split by recent table
        (``sensing.recent``), each table's in its key's order (time, datastream): with one time
        in the batch that is the rows' own order, each datastream once."""
        groups: list[list[tuple[Any, ...]]] = [[] for _ in range(RECENT_PARTS)]
        into = [group.append for group in groups]
        for row in rows:
            into[row[0] // RECENT_BLOCK % RECENT_PARTS](row)
        for part, group in enumerate(groups):
            if not group:
                continue
            group.sort(key=None if one_time else _TIME_FIRST)
            first = len(self.sent)
            self.sent += group
            offsets = range(first, first + len(group))
            led = list(zip(offsets, *zip(*group, strict=True), strict=True))
            for start, size in values.chunks(len(led), values.most_rows(width + 1)):
                sql = _insert(width, part, size)
                self.statements.append((sql, values.flat(led, start, size), size, part))


def dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def unique(readings: Sequence[Reading]) -> list[Reading]:
    """The readings without repeats of a (datastream, time) key; the first of each is kept."""
    first: dict[tuple[int, datetime], Reading] = {}
    for r in readings:
        first.setdefault((r.datastream_id, r.phenomenon_time), r)
    return list(first.values())


def prepare(readings: Sequence[Reading], numbers: Numbers | None = None) -> Rows:
    """The SQLite insert's parameters for ``readings`` (repeats in the batch dropped).
    ``numbers``: ``validate.Checked.numbers`` of these readings, their columns already (taking
    a batch of 10,000 apart again cost ~2.8 ms)."""
    if not readings:
        return Rows([])
    kept = list(readings)
    columns: list[Sequence[Any]]
    if numbers is not None and len(numbers[0]) == len(kept):
        columns = [*numbers, *repeat((None,) * len(kept), len(Reading._fields) - 3)]
    else:
        columns = list(zip(*kept, strict=True))
    times = set(columns[1])
    one_time = len(times) == 1  # a gateway's batch: then each datastream once, or a repeat
    keys = set(columns[0]) if one_time else set(zip(columns[0], columns[1], strict=True))
    if len(keys) < len(kept):
        kept = unique(kept)
        columns = list(zip(*kept, strict=True))
    n = len(kept)
    ds, when, result, as_json, result_time, parameters, foi, _msg = columns
    micros = list(_micros(when, times))
    rows = Rows(kept, columns=(ds, micros, result, as_json))
    if result_time.count(None) == parameters.count(None) == foi.count(None) == n:
        if as_json.count(None) == n:  # numbers only: the short row
            rows.add(zip(ds, micros, result, strict=True), 3, one_time)
        else:
            rows.add(zip(ds, micros, result, map(dump, as_json), strict=True), 4, one_time)
        return rows
    short: list[tuple[Any, ...]] = []
    full: list[tuple[Any, ...]] = []
    for r, t in zip(kept, micros, strict=True):
        if r.result_time is None and r.parameters is None and r.foi_id is None:
            short.append((r.datastream_id, t, r.result, dump(r.result_json)))
        else:
            rt = to_micros(r.result_time) if r.result_time else None
            json_result, params_text = dump(r.result_json), dump(r.parameters)
            full.append((r.datastream_id, t, r.result, json_result, rt, params_text, r.foi_id))
    for width, part in ((4, short), (7, full)):
        if part:
            rows.add(part, width, one_time)
    return rows


def _micros(when: Sequence[datetime], distinct: set[datetime]) -> Iterator[int]:
    """Each time in epoch µs (``to_micros``'s arithmetic): once per distinct time when a batch
    shares a few (a gateway's), else in C over the column (the MQTT door: every reading its own
    time)."""
    if len(distinct) * 4 < len(when):
        micros = {t: to_micros(t) for t in distinct}
        return map(micros.__getitem__, when)
    return map(floordiv, map(sub, when, repeat(EPOCH)), repeat(MICROSECOND))


def insert_sqlite(cursor: Any, rows: Rows, guard: Sequence[int], first_id: int) -> int:
    """Run the prepared statements into the recent tables; the number of rows stored (repeats
    of stored keys skipped). ``guard``: ``sensing.recent.guard``, each table's compaction
    watermark; ``first_id``: the id of ``rows.sent[0]`` (the rest follow, a repeat leaves a
    gap)."""
    n = 0
    for sql, params, _size, part in rows.statements:
        cursor.execute(sql, [first_id, *params, guard[part]])
        n += cursor.rowcount
    return n


def insert_pg(cursor: Any, rows: Sequence[Reading]) -> int:
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
            [dump(r.result_json) for r in rows],
            [r.result_time for r in rows],
            [dump(r.parameters) for r in rows],
            [r.foi_id for r in rows],
        ),
    )
    return int(cursor.rowcount)


def event_data(
    stored: Sequence[Reading], evaluated: bool, prepared: Rows | None = None
) -> dict[str, Any]:
    """The batch event's data, columnar: datastream ids, epoch-second times, results.
    ``prepared``: the batch's rows, whose columns serve when ``stored`` is all their readings
    (µs / 10⁶ is ``datetime.timestamp``'s own arithmetic)."""
    if not stored:
        return {"count": 0, "evaluated": evaluated, "datastream_id": [], "time": [], "result": []}
    if prepared is not None and prepared.columns is not None and prepared.readings is stored:
        ds, micros, result, as_json = prepared.columns
        when = list(map(truediv, micros, repeat(1e6)))
    else:
        ds, moments, result, as_json = list(zip(*stored, strict=True))[:4]
        when = list(map(datetime.timestamp, moments))
    return {
        "count": len(stored),
        "evaluated": evaluated,
        "datastream_id": list(ds),
        "time": when,
        "result": list(result)
        if as_json.count(None) == len(stored)
        else [r if r is not None else j for r, j in zip(result, as_json, strict=True)],
    }

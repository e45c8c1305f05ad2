"""Two SQLite layouts for raw readings, alone and beside a door's Python (issue 3's pipeline).

The pipeline benchmark (``bench pipeline``) stores readings in ``observation``, keyed
(datastream, time) so a datastream's history is one index range. A batch of 10,000 readings over
100,000 datastreams lands on ~10,000 different leaf pages of that key, and every one of them goes
to the WAL at commit: the store slows as the table grows. This benchmark measures that limit on
its own, in plain ``sqlite3`` with the store's statements (``INSERT … SELECT FROM (VALUES …)``,
rows bound as parameters in chunks, ``store.values``, as ``sensing.obs_rows`` inserts them;
before 2026-11-27 one JSON text through ``json_each``: 6.2 against 2.4 µs a row), and the
layout that would lift it:

- ``direct``: today's layout, every batch into the (datastream, time) key.
- ``parts``: the app's layout (``sensing.recent``): ten time-first tables, a datastream's
  readings in table (datastream // 1,000) % 10, ids given by the store; every ``cut`` / 10 rows a
  step moves one whole table into the (datastream, time) table and empties it.
- ``recent``: batches go into one time-first table (``UNIQUE (phenomenon_time, datastream_id)``,
  so a batch appends at one end), and every ``cut`` rows a compaction moves them into the
  (datastream, time) table in datastream order, ``chunk`` datastreams a transaction. The
  compaction writes many readings of a datastream per leaf page. The longest compaction
  transaction is reported: on the app's one SQLite file a fan command would wait behind it.

The door is stood in for by ``door_us`` microseconds of Python per reading (a busy loop holding
the GIL, as validation, rules and the open buckets do; today's door spends 5–10 µs). ``serial``
runs door and store in one thread, as ``sensing.door.take_in`` does; ``thread`` hands each batch
to a store thread through a queue of two (SQLite's statement and commit run without the GIL).
Nothing here is the app's code path: it bounds what any door can reach with each layout. It
leaves out what the app would add to ``recent``: a reading older than the last compaction must be
looked up in the keyed table before it counts as new (the time-first key cannot see it there),
and readers must read both tables.

A batch holds 10,000 of the 100,000 datastreams, shuffled as the pipeline benchmark sends them
(the run's fourth field ``contiguous``: 10,000 neighbouring ids, one gateway's devices, which
land on a third as many leaf pages of the (datastream, time) key).

Beside the store a thread stands in for the rules' fan commands: every 20 ms one small write
transaction, queued for the writer as the app queues them (``store.writer.WriterQueue``), and
its time, wait included, is reported (p50/p99/max). The run's fifth field says where: ``shared``
(default), in the readings' own file, so it waits behind their inserts and compactions, as
today; ``own``, the readings in a file of their own (the planned split), the commands in
another.

``BENCH_LAYOUT_ROWS`` (default 5,000,000) and ``BENCH_LAYOUT_RUNS`` (``layout:mode:door_us``
with an optional ``:spread`` and ``:file``; default
``direct:serial:0,direct:serial:5.5,recent:serial:0,recent:serial:5.5,recent:thread:5.5,
recent:thread:1,parts:serial:0,parts:serial:5.5``) choose the runs.
"""

from __future__ import annotations

import os
import queue
import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

from bench.common import VAR, console, machine, print_machine, save
from cityops.store import values
from cityops.store.checkpoint import BACKSTOP_PAGES
from cityops.store.writer import WriterQueue

DATASTREAMS = 100_000
BATCH = 10_000
T0 = 1_795_000_000_000_000  # epoch µs; a reading each minute per datastream from here
DEFAULT_RUNS = (
    "direct:serial:0,direct:serial:5.5,recent:serial:0,recent:serial:5.5,"
    "recent:thread:5.5,recent:thread:1,parts:serial:0,parts:serial:5.5"
)
_NEW = "datastream_id, phenomenon_time, result"  # the columns a batch's rows fill
_COLUMNS = "datastream_id, phenomenon_time, result_time, result, result_json, foi_id, parameters"
_TABLE = (
    "CREATE TABLE {name} (id INTEGER PRIMARY KEY{auto}, datastream_id INTEGER NOT NULL, "
    "phenomenon_time INTEGER NOT NULL, result_time INTEGER, result REAL, result_json TEXT, "
    "foi_id INTEGER, parameters TEXT, UNIQUE ({key}))"
)
PARTS, BLOCK = 10, 1_000  # the parts layout: sensing.models.RECENT_PARTS, RECENT_BLOCK
Rows = list[tuple[Any, ...]]


@cache
def _insert(table: str, names: str, width: int, size: int) -> str:
    return (
        f"INSERT INTO {table} ({names}) SELECT * FROM {values.rows_list(size, width)} "
        "WHERE true ON CONFLICT DO NOTHING"
    )


def insert_rows(con: sqlite3.Connection, table: str, names: str, rows: Rows) -> None:
    """``rows`` (tuples of the columns ``names``) into ``table``, a chunk a statement."""
    width = len(rows[0]) if rows else 0
    values.execute(con, partial(_insert, table, names, width), rows)


@dataclass(frozen=True)
class Run:
    layout: str  # direct | recent | parts
    mode: str  # serial | thread
    door_us: float
    rows: int
    spread: str = "shuffled"  # shuffled | contiguous: which datastreams a batch holds
    file: str = "shared"  # shared | own: the readings in the fan commands' file, or their own
    cut: int = 1_000_000
    chunk: int = 10_000  # datastreams per compaction transaction

    @classmethod
    def parse(cls, spec: str, rows: int) -> Run:
        layout, mode, door, *rest = spec.split(":")
        spread = rest[0] if rest else "shuffled"
        file = rest[1] if len(rest) > 1 else "shared"
        if (
            layout not in ("direct", "recent", "parts")
            or mode not in ("serial", "thread")
            or spread not in ("shuffled", "contiguous")
            or file not in ("shared", "own")
        ):
            raise SystemExit(
                f"BENCH_LAYOUT_RUNS: {spec!r} is not layout:mode:door_us[:spread[:file]]"
            )
        return cls(layout, mode, float(door), rows, spread, file)


@dataclass
class Store:
    """One SQLite file in the layout of ``run``; ``take`` stores one batch (``batch_rows``,
    or ``batch_parts`` for the ``parts`` layout)."""

    run: Run
    path: Path
    con: sqlite3.Connection = field(init=False)
    writers: WriterQueue = field(default_factory=WriterQueue)  # the file's one writer, FIFO
    pending: int = 0  # rows in the recent table since the last compaction
    next_part: int = 0  # parts: the table the next step moves
    longest_s: float = 0.0  # the longest write transaction
    compaction_s: float = 0.0

    def __post_init__(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
            self.con.execute(f"PRAGMA {pragma}")
        # As the app runs (store.checkpoint): a thread checkpoints, commits only past a backstop.
        self.con.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        key = "datastream_id, phenomenon_time"
        self.con.execute(_TABLE.format(name="observation", auto="", key=key))
        if self.run.layout == "recent":  # AUTOINCREMENT: ids never reused once moved out
            auto, key = " AUTOINCREMENT", "phenomenon_time, datastream_id"
            self.con.execute(_TABLE.format(name="observation_recent", auto=auto, key=key))
        self.target = "observation_recent" if self.run.layout == "recent" else "observation"
        if self.run.layout == "parts":  # ids come with the rows
            for part in range(PARTS):
                self.con.execute(_TABLE.format(name=f"recent_{part}", auto="", key=key))

    def take(self, batch: Any, rows: int) -> None:
        if self.run.layout == "parts":
            self._write(lambda: self._take_parts(batch))
            self.pending += rows
            while self.pending >= self.run.cut // PARTS:
                self.pending -= self.run.cut // PARTS
                started = time.perf_counter()
                self._write(self._move_part)
                self.compaction_s += time.perf_counter() - started
            return
        self._write(lambda: insert_rows(self.con, self.target, _NEW, batch))
        if self.run.layout == "recent":
            self.pending += rows
            if self.pending >= self.run.cut:
                self.compact()

    def compact(self) -> None:
        """Move every row of the recent table into the keyed one, datastream range by range."""
        started = time.perf_counter()
        (high,) = self.con.execute("SELECT max(id) FROM observation_recent").fetchone()
        for low in range(0, DATASTREAMS + 1, self.run.chunk):
            span = (low, low + self.run.chunk, high or 0)
            self._write(lambda span=span: self._move(*span))
        self.pending = 0
        self.compaction_s += time.perf_counter() - started

    def _move(self, low: int, end: int, high: int) -> None:
        where = "WHERE datastream_id >= ? AND datastream_id < ? AND id <= ?"
        self.con.execute(
            f"INSERT INTO observation (id, {_COLUMNS}) SELECT id, {_COLUMNS} "
            f"FROM observation_recent {where} ORDER BY datastream_id, phenomenon_time",
            (low, end, high),
        )
        self.con.execute(f"DELETE FROM observation_recent {where}", (low, end, high))

    def _take_parts(self, parts: list[Rows]) -> None:
        for part, rows in enumerate(parts):
            insert_rows(self.con, f"recent_{part}", f"id, {_NEW}", rows)

    def _move_part(self) -> None:
        part, self.next_part = self.next_part, (self.next_part + 1) % PARTS
        self.con.execute(
            f"INSERT INTO observation (id, {_COLUMNS}) SELECT id, {_COLUMNS} FROM recent_{part} "
            "WHERE true ORDER BY datastream_id, phenomenon_time"
        )
        self.con.execute(f"DELETE FROM recent_{part}")

    def _write(self, work: Any) -> None:
        started = time.perf_counter()
        self.writers.enter(self.con)
        try:
            self.con.execute("BEGIN IMMEDIATE")
            work()
            self.con.execute("COMMIT")
        finally:
            self.writers.leave(self.con)
        self.longest_s = max(self.longest_s, time.perf_counter() - started)

    def count(self) -> tuple[int, int]:
        """(rows, distinct (datastream, time) keys) over both tables."""
        union = "SELECT id, datastream_id, phenomenon_time FROM observation"
        if self.run.layout == "recent":
            union += " UNION ALL SELECT id, datastream_id, phenomenon_time FROM observation_recent"
        for part in range(PARTS if self.run.layout == "parts" else 0):
            union += f" UNION ALL SELECT id, datastream_id, phenomenon_time FROM recent_{part}"
        rows, keys, ids = self.con.execute(
            f"SELECT count(*), count(DISTINCT datastream_id * 1000000000 + "
            f"(phenomenon_time - {T0}) / 60000000), count(DISTINCT id) FROM ({union})"
        ).fetchone()
        if ids != rows:
            raise RuntimeError(f"{rows - ids} ids stored twice")
        return int(rows), int(keys)


def batch_rows(first: int, order: list[int]) -> Rows:
    """Readings ``first`` … ``first + BATCH - 1``: datastream ``order[n % 100,000]``, each a
    minute after its last."""
    return [
        (order[n % DATASTREAMS], T0 + n // DATASTREAMS * 60_000_000, (n % 97) / 10)
        for n in range(first, first + BATCH)
    ]


def batch_parts(first: int, order: list[int]) -> list[Rows]:
    """``batch_rows``' readings split into the ``parts`` layout's tables, each with its id."""
    parts: list[Rows] = [[] for _ in range(PARTS)]
    for n in range(first, first + BATCH):
        ds = order[n % DATASTREAMS]
        when = T0 + n // DATASTREAMS * 60_000_000
        parts[ds // BLOCK % PARTS].append((0, ds, when, (n % 97) / 10))
    next_id = first + 1  # ids table by table, as the app's store gives them (obs_rows.Rows)
    for part in parts:
        part[:] = [(i, d, t, r) for i, (_, d, t, r) in enumerate(part, next_id)]
        next_id += len(part)
    return parts


def datastream_order(spread: str) -> list[int]:
    """``contiguous``: a batch holds 10,000 neighbouring ids (one gateway's devices, provisioned
    together); ``shuffled``: any 10,000 of the 100,000, as the pipeline benchmark sends them.
    A shuffled batch lands on ~3 times as many leaf pages of the (datastream, time) key."""
    order = list(range(DATASTREAMS))
    if spread == "shuffled":
        random.Random(11).shuffle(order)
    return order


def _door(us_per_reading: float) -> None:
    """Hold the GIL for the door's Python on one batch."""
    end = time.thread_time() + us_per_reading * BATCH / 1e6
    x = 0
    while time.thread_time() < end:
        for i in range(200):
            x += i


def _checkpoints(path: Path, stop: threading.Event) -> None:
    """``store.checkpoint.WalCheckpointer``'s loop: PASSIVE every half second."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    while not stop.wait(0.5):
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    conn.close()


def _fan_commands(path: Path, writers: WriterQueue, stop: threading.Event) -> list[float]:
    """A fan command's own small transaction every 20 ms on ``path``, behind ``writers``: how
    long each took, its wait for the writer included (the pipeline's breach → command)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        f"wal_autocheckpoint={BACKSTOP_PAGES}",
    ):
        conn.execute(f"PRAGMA {pragma}")  # as the app's connections: no checkpoint at its commit
    conn.execute("CREATE TABLE IF NOT EXISTS fan_command (id INTEGER PRIMARY KEY, at REAL)")
    took: list[float] = []
    while not stop.wait(0.02):
        started = time.perf_counter()
        writers.enter(conn)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO fan_command (at) VALUES (?)", (started,))
            conn.execute("COMMIT")
        finally:
            writers.leave(conn)
        took.append(time.perf_counter() - started)
    conn.close()
    return took


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1) if values else 0.0


def measure(run: Run, path: Path) -> dict[str, Any]:
    store = Store(run, path)
    stop = threading.Event()
    checkpointer = threading.Thread(target=_checkpoints, args=(path, stop), name="checkpoint")
    checkpointer.start()
    main_file = path if run.file == "shared" else path.with_name(f"{path.stem}_main.db")
    for suffix in ("", "-wal", "-shm"):
        if main_file != path:
            Path(f"{main_file}{suffix}").unlink(missing_ok=True)
    fan_writers = store.writers if run.file == "shared" else WriterQueue()
    fans: list[list[float]] = []
    fan = threading.Thread(
        target=lambda: fans.append(_fan_commands(main_file, fan_writers, stop)), name="fan"
    )
    fan.start()
    handoff: queue.Queue[tuple[Any, int] | None] = queue.Queue(maxsize=2)
    make = batch_parts if run.layout == "parts" else batch_rows

    def storer() -> None:
        while (item := handoff.get()) is not None:
            store.take(*item)

    worker = threading.Thread(target=storer, name="store") if run.mode == "thread" else None
    if worker is not None:
        worker.start()
    tenths: list[float] = []
    order = datastream_order(run.spread)
    batches = run.rows // BATCH
    started, cpu = time.perf_counter(), time.process_time()
    mark = started
    for b in range(batches):
        _door(run.door_us)
        if worker is not None:
            handoff.put((make(b * BATCH, order), BATCH))
        else:
            store.take(make(b * BATCH, order), BATCH)
        if (b + 1) % max(1, batches // 10) == 0:
            now = time.perf_counter()
            tenths.append(round(run.rows / 10 / (now - mark)))
            mark = now
    if worker is not None:
        handoff.put(None)
        worker.join()
    took, used = time.perf_counter() - started, time.process_time() - cpu
    stop.set()
    checkpointer.join()
    fan.join()
    commands = fans[0] if fans else []
    rows, keys = store.count()
    store.con.close()
    if rows != run.rows or keys != run.rows:
        raise RuntimeError(f"{run}: {rows:,} rows and {keys:,} keys stored of {run.rows:,}")
    return {
        "layout": run.layout,
        "mode": run.mode,
        "spread": run.spread,
        "file": run.file,
        "door_us": run.door_us,
        "rows": run.rows,
        "rows_per_s": round(run.rows / took),
        "cpu_cores": round(used / took, 2),
        "first_tenth_per_s": tenths[0] if tenths else None,
        "last_tenth_per_s": tenths[-1] if tenths else None,
        "compaction_s": round(store.compaction_s, 1),
        "longest_write_ms": round(store.longest_s * 1000),
        "fan_commands": len(commands),
        "fan_command_p50_ms": _ms(commands, 0.5),
        "fan_command_p99_ms": _ms(commands, 0.99),
        "fan_command_max_ms": _ms(commands, 1.0),
    }


def main() -> None:
    rows = int(os.environ.get("BENCH_LAYOUT_ROWS", "5000000").replace("_", ""))
    runs = [
        Run.parse(s, rows) for s in os.environ.get("BENCH_LAYOUT_RUNS", DEFAULT_RUNS).split(",")
    ]
    info = machine()
    print_machine(info)
    VAR.mkdir(parents=True, exist_ok=True)
    figures = []
    for run in runs:
        load = os.getloadavg()[0]
        got = {**measure(run, VAR / "store_layout.db"), "load_before": round(load, 2)}
        figures.append(got)
        console.print(
            f"{run.layout:6} {run.mode:6} {run.spread:10} {run.file:6} door {run.door_us:>4} µs: "
            f"{got['rows_per_s']:>8,} rows/s "
            f"({got['cpu_cores']} cores; first tenth {got['first_tenth_per_s']:,}/s, last "
            f"{got['last_tenth_per_s']:,}/s; compaction {got['compaction_s']} s, longest write "
            f"{got['longest_write_ms']} ms; fan commands ({run.file} file) p50 "
            f"{got['fan_command_p50_ms']} ms, p99 {got['fan_command_p99_ms']} ms, max "
            f"{got['fan_command_max_ms']} ms; load {load:.2f})"
        )
    for name in ("store_layout.db", "store_layout_main.db"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{VAR / name}{suffix}").unlink(missing_ok=True)
    console.print(f"saved {save('bench_store_layout', {'machine': info, 'figures': figures})}")


if __name__ == "__main__":
    main()

"""Bulk-load years of historical cases (历史案件) so KPIs, dashboards and benchmarks have data.

Every case is generated whole (上报 → 受理 → 立案 → 派遣 → 处置 → 核查 → 结案 → 评价) and then cut
at ``until`` (midnight, city time): cases older than a few weeks are closed or evaluated, recent
ones stand in whichever open state they had reached. Rows go in id = time order with raw
``executemany`` on SQLite and ``COPY`` on PostgreSQL in one transaction (a large load drops the
case indexes and builds them again after), then ``ANALYZE`` (on PostgreSQL ``VACUUM ANALYZE``:
until the visibility map is set, the covering KPI indexes still visit every heap page); one
ledger entry records the import (count, id range, seed, SHA-256 over the generated columns).

Approximations (deliberate):

* time limits (处置时限) run on the wall clock: ``4h`` is 4 hours and ``2d`` 2 days after
  dispatch, not working hours/days; ``handling_seconds`` is wall-clock time from dispatch to
  handling (the live service counts working time).
* cases lie on today's map, departments and workers, even on days before a boundary change.
* the department follows the category's type and handling level, with the street office as the
  territorial fallback (属地兜底); dispatch plans and component owners are not consulted.
* no ``case_report`` rows and no per-case ledger entries: the import entry stands for them.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex

from cityops.cases.categories import load_catalogue
from cityops.cases.models import Case
from cityops.errors import ValidationFailed
from cityops.ledger import service as ledger
from cityops.settings import Settings
from cityops.sim.history_gen import (
    BATCH,
    BOOL,
    COLUMNS,
    I64,
    OBJ,
    TIMES,
    Batch,
    City,
    case_days,
    generate_batch,
    objects,
    read_city,
)
from cityops.store.engine import make_engine, make_session_factory, transaction

REBUILD_INDEXES_FROM = 100_000  # a load this large (and larger than the table) rebuilds indexes
PARALLEL_FROM = 200_000  # a load this large is generated in a helper process
Progress_ = Callable[[int], None]
_NONE = np.array(None, dtype=object)
_INSERT = 'INSERT INTO "case" ({}) VALUES ({})'.format(
    ", ".join(COLUMNS), ", ".join("?" * len(COLUMNS))
)


@dataclass
class Clock:
    """Text of UTC instants as SQLAlchemy keeps them on SQLite (PostgreSQL reads it as UTC)."""

    first_day: int  # days since the epoch
    days: OBJ = field(init=False)
    tod: OBJ = field(init=False)

    def __post_init__(self) -> None:
        span = np.arange(self.first_day, self.first_day + 60 * 366).astype("datetime64[D]")
        self.days = np.strings.add(np.datetime_as_string(span), " ").astype(object)
        s = np.arange(86400)
        self.tod = objects(
            [
                f"{h:02d}:{m:02d}:{x:02d}.000000"
                for h, m, x in zip(s // 3600, s // 60 % 60, s % 60, strict=True)
            ]
        )

    def text(self, secs: I64, ok: BOOL) -> list[Any]:
        day, tod = np.divmod(np.where(ok, secs, self.first_day * 86400), 86400)
        text = self.days[day - self.first_day] + self.tod[tod]
        return list(np.where(ok, text, _NONE).tolist())


def _rows(batch: Batch, clock: Clock) -> list[tuple[Any, ...]]:
    """The batch as tuples in ``COLUMNS`` order, times as text."""
    texts = [clock.text(*batch.times[name]) for name in TIMES]
    return list(zip(*(batch.cols[c] for c in COLUMNS[: -len(TIMES)]), *texts, strict=True))


@dataclass
class _Load:
    """One import: its inputs, and what it learns while generating (digest, open cases)."""

    city: City
    days: I64
    day0: int
    now: int
    seed: int
    first_id: int = 0
    sha256: str = ""
    open_cases: dict[int, int] = field(default_factory=dict)

    def generate(self) -> Iterator[list[tuple[Any, ...]]]:
        """Row lists in id order; counts each worker's open cases (派遣/处置中) on the way."""
        clock, digest = Clock(self.day0 // 86400 - 1), hashlib.sha256()
        for lo in range(0, len(self.days), BATCH):
            hi = min(lo + BATCH, len(self.days))
            ids = np.arange(self.first_id + lo, self.first_id + hi, dtype=np.int64)
            batch = generate_batch(
                self.city,
                ids=ids,
                day=self.days[lo:hi],
                day0=self.day0,
                now=self.now,
                seed=self.seed,
                batch=lo // BATCH,
                digest=digest,
            )
            for w, s in zip(batch.cols["worker_id"], batch.cols["status"], strict=True):
                if w is not None and s in ("dispatched", "in_progress"):
                    self.open_cases[w] = self.open_cases.get(w, 0) + 1
            yield _rows(batch, clock)
        self.sha256 = digest.hexdigest()

    def batches(self, progress: Progress_ | None) -> Iterator[list[tuple[Any, ...]]]:
        """The rows, generated in a helper process for a large load so writing never waits."""
        source = self._from_helper() if len(self.days) >= PARALLEL_FROM else self.generate()
        for rows in source:
            yield rows
            if progress is not None:
                progress(len(rows))

    def _from_helper(self) -> Iterator[list[tuple[Any, ...]]]:
        ctx = multiprocessing.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        helper = ctx.Process(target=_produce, args=(self, send), daemon=True)
        helper.start()
        send.close()
        try:
            while True:
                try:
                    kind, body = receive.recv()
                except EOFError:
                    raise RuntimeError("the history generator process died") from None
                if kind == "done":
                    self.sha256, self.open_cases = body
                    return
                yield body
        finally:
            receive.close()
            helper.join(timeout=5)
            if helper.is_alive():
                helper.terminate()

    def staff_updates(self) -> list[tuple[int, int]]:
        return [(k, w) for w, k in sorted(self.open_cases.items())]


def _produce(load: _Load, send: Any) -> None:
    """Helper process: generate and send every batch, then the digest and open-case counts."""
    for rows in load.generate():
        send.send(("rows", rows))
    send.send(("done", (load.sha256, load.open_cases)))
    send.close()


def _indexes(engine: Engine) -> list[tuple[str, str]]:
    """(drop, create) statements of the case table's secondary indexes."""
    table: Any = Case.__table__
    return [
        (f'DROP INDEX IF EXISTS "{ix.name}"', str(CreateIndex(ix).compile(dialect=engine.dialect)))
        for ix in sorted(table.indexes, key=lambda i: str(i.name))
    ]


def _rebuild(engine: Engine, count: int, existing: int) -> list[tuple[str, str]]:
    return _indexes(engine) if count >= REBUILD_INDEXES_FROM and count >= existing else []


def _load_sqlite(engine: Engine, load: _Load, count: int, progress: Progress_ | None) -> None:
    raw = engine.raw_connection()
    try:
        db: Any = raw.driver_connection
        db.execute("PRAGMA foreign_keys=OFF")  # ids come from the tables themselves
        db.execute("PRAGMA cache_size=-262144")
        db.execute("PRAGMA threads=2")  # sorter helper threads for CREATE INDEX
        db.execute("BEGIN IMMEDIATE")
        try:
            last, existing = db.execute(
                'SELECT coalesce(max(id), 0), count(*) FROM "case"'
            ).fetchone()
            load.first_id = int(last) + 1
            indexes = _rebuild(engine, count, int(existing))
            for drop, _ in indexes:
                db.execute(drop)
            for rows in load.batches(progress):
                db.executemany(_INSERT, rows)
            for _, create in indexes:
                db.execute(create)
            db.executemany(
                "UPDATE staff SET open_cases = open_cases + ? WHERE id = ?", load.staff_updates()
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("PRAGMA analysis_limit=2000")
        db.execute('ANALYZE "case"')
    finally:
        raw.invalidate()  # the load's PRAGMAs do not go back to the pool


def _load_postgres(engine: Engine, load: _Load, count: int, progress: Progress_ | None) -> None:
    raw = engine.raw_connection()
    try:
        db: Any = raw.driver_connection
        with db.cursor() as cur:
            cur.execute("SET LOCAL TimeZone = 'UTC'")
            cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
            cur.execute('LOCK TABLE "case" IN EXCLUSIVE MODE')  # readers go on, writers wait
            cur.execute('SELECT coalesce(max(id), 0), count(*) FROM "case"')
            last, existing = cur.fetchone()
            load.first_id = int(last) + 1
            indexes = _rebuild(engine, count, int(existing))
            for drop, _ in indexes:
                cur.execute(drop)
            with cur.copy(f'COPY "case" ({", ".join(COLUMNS)}) FROM STDIN') as copy:
                for rows in load.batches(progress):
                    for row in rows:
                        copy.write_row(row)
            for _, create in indexes:
                cur.execute(create)
            cur.executemany(
                "UPDATE staff SET open_cases = open_cases + %s WHERE id = %s", load.staff_updates()
            )
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), "
                '(SELECT max(id) FROM "case"))'
            )
        db.commit()
        db.autocommit = True  # VACUUM cannot run in a transaction
        try:
            with db.cursor() as cur:  # VACUUM sets the visibility map: index-only KPI scans
                cur.execute('VACUUM (ANALYZE) "case"')
        finally:
            db.autocommit = False
    except BaseException:
        raw.invalidate()
        raise
    finally:
        raw.close()


def load_cases(
    *,
    engine: Engine,
    cases: int,
    years: int,
    until: date,
    seed: int,
    progress: Progress_ | None = None,
    time_zone: str = "Asia/Shanghai",
    at: datetime | None = None,
) -> int:
    """Write ``cases`` cases reported over the ``years`` years before ``until``; returns the count.

    ``progress`` is called with the number of rows just generated. The ledger entry is appended
    in its own transaction after the rows are committed, at ``at`` (default: now).
    """
    if isinstance(cases, bool) or not isinstance(cases, int) or not 0 <= cases <= 100_000_000:
        raise ValidationFailed(f"cases must be 0…100,000,000, not {cases!r}", code="bad_count")
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 30:
        raise ValidationFailed(f"years must be 1…30, not {years!r}", code="bad_years")
    tz = ZoneInfo(time_zone)
    try:
        first = until.replace(year=until.year - years)
    except ValueError:  # 29 February
        first = until.replace(year=until.year - years, day=28)
    with Session(engine) as session:
        city = read_city(session, load_catalogue(), seed)
    load = _Load(
        city=city,
        days=case_days(cases=cases, start=first, days=(until - first).days, seed=seed),
        day0=int(datetime(first.year, first.month, first.day, tzinfo=tz).timestamp()),
        now=int(datetime(until.year, until.month, until.day, tzinfo=tz).timestamp()),
        seed=seed,
    )
    if cases:
        (_load_sqlite if engine.dialect.name == "sqlite" else _load_postgres)(
            engine, load, cases, progress
        )
    with transaction(make_session_factory(engine)) as session:
        ledger.append(
            session=session,
            at=at or datetime.now(UTC),
            actor="system:import",
            action="import_history",
            subject="import:history",
            payload={
                "count": cases,
                "first_id": load.first_id if cases else None,
                "last_id": load.first_id + cases - 1 if cases else None,
                "seed": seed,
                "years": years,
                "until": until.isoformat(),
                "sha256": load.sha256 or hashlib.sha256().hexdigest(),
            },
        )
    return cases


def load_history(
    *, settings: Settings, cases: int, years: int, until: date, seed: int, console: Console | None
) -> int:
    """Load history into the configured database, with a progress bar when given a console."""
    engine = make_engine(settings.database_url)
    try:
        if console is None:
            return load_cases(
                engine=engine,
                cases=cases,
                years=years,
                until=until,
                seed=seed,
                time_zone=settings.time_zone,
            )
        columns = (
            TextColumn("历史案件 history"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("cases", total=cases)
            n = load_cases(
                engine=engine,
                cases=cases,
                years=years,
                until=until,
                seed=seed,
                time_zone=settings.time_zone,
                progress=lambda k: bar.advance(task, k),
            )
        console.print(f"loaded {n:,} historical cases ({years} years before {until})")
        return n
    finally:
        engine.dispose()

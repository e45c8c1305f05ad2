"""Shared benchmark plumbing: the machine, the two databases, the seeded city, timing, results.

Databases: a SQLite file under ``var/bench/`` and a PostgreSQL database ``cityops_bench`` on
``CITYOPS_TEST_POSTGRES_URL`` (or 127.0.0.1:5432 as postgres). The city and its historical
cases are loaded once and reused while the case count matches ``BENCH_CASES`` and the schema
(tables, columns, indexes) matches the models; otherwise, or with ``BENCH_REBUILD=1``, the
database is dropped and loaded again. ``BENCH_REPEAT`` (default 2) is how often each figure is
measured: the better run is reported, with the spread, because other work may share the machine.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from rich.console import Console
from sqlalchemy import Engine, func, inspect, select, text

from cityops.cases.models import Case
from cityops.geo.models import Jurisdiction, Level
from cityops.ledger.models import LedgerEntry
from cityops.registry.models import Department
from cityops.store.base import Base, import_all_models
from cityops.store.engine import make_engine, make_session_factory, transaction

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
VAR = ROOT / "var" / "bench"
SEED = 7
UNTIL = date(2026, 11, 25)
YEARS = 4
FOCUS_DISTRICTS = ("500107", "500157")
console = Console(soft_wrap=True)  # log lines stay whole when piped
T = TypeVar("T")
import_all_models()


def bench_cases() -> int:
    """How many historical cases to load (``BENCH_CASES``, default 4,000,000)."""
    raw = os.environ.get("BENCH_CASES", "4000000").replace("_", "")
    value = int(raw)
    if value < 1000:
        raise SystemExit(f"BENCH_CASES must be at least 1000, not {raw}")
    return value


def repeats() -> int:
    """How often each figure is measured (``BENCH_REPEAT``, default 2)."""
    return max(1, int(os.environ.get("BENCH_REPEAT", "2")))


def machine() -> dict[str, Any]:
    """CPU, RAM, Python and database versions of this machine."""
    model = "unknown"
    mem_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgres": None,
    }
    try:
        with psycopg.connect(pg_admin_url(), connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgres"] = row[0] if row else None
    except psycopg.Error:
        pass
    return info


def print_machine(info: dict[str, Any]) -> None:
    console.print(
        f"[bold]machine[/]: {info['cpus']} CPU ({info['cpu_model']}), {info['ram_gb']} GB RAM, "
        f"Python {info['python']}, SQLite {info['sqlite']}, PostgreSQL {info['postgres']}"
    )


def pg_admin_url() -> str:
    return os.environ.get(
        "CITYOPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def sqlite_url() -> str:
    VAR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{VAR / 'cityops_bench.db'}"


def postgres_url() -> str | None:
    """The bench database on PostgreSQL (created if missing), or None without a server."""
    admin = pg_admin_url()
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = 'cityops_bench'"
            ).fetchone()
            if not found:
                conn.execute('CREATE DATABASE "cityops_bench"')
    except psycopg.Error as exc:
        console.print(f"[yellow]PostgreSQL not available ({exc}); SQLite only[/]")
        return None
    url = admin.rsplit("/", 1)[0] + "/cityops_bench"
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def backends() -> list[tuple[str, str]]:
    """(name, URL) of each database to measure; ``BENCH_DB=sqlite`` or ``postgres`` picks one."""
    wanted = os.environ.get("BENCH_DB", "sqlite,postgres").split(",")
    out = [("sqlite", sqlite_url())] if "sqlite" in wanted else []
    pg = postgres_url() if "postgres" in wanted else None
    if pg:
        out.append(("postgres", pg))
    return out


def _seed_city_directly(engine: Engine) -> None:
    """The synthetic Chongqing map, departments and staff (no 部件, no accounts)."""
    from cityops.sim.geography import build_chongqing, load_into
    from cityops.sim.org import DistrictInput, StreetInput, build_org
    from cityops.sim.org_load import load_org

    factory = make_session_factory(engine)
    with transaction(factory) as session:
        load_into(session=session, records=build_chongqing(seed=SEED))
    with transaction(factory) as session:
        rows = session.execute(
            select(Jurisdiction).where(
                Jurisdiction.valid_to.is_(None),
                Jurisdiction.level.in_([Level.district, Level.street]),
            )
        ).scalars()
        districts: list[Any] = []
        streets: list[Any] = []
        for j in rows:
            bbox = (j.min_lng or 0.0, j.min_lat or 0.0, j.max_lng or 0.0, j.max_lat or 0.0)
            args = (j.code, j.name, j.center_lat or 0.0, j.center_lng or 0.0, bbox)
            (districts if j.level == Level.district else streets).append(args)
        org = build_org(
            seed=SEED,
            districts=[DistrictInput(*a) for a in districts],
            streets=[StreetInput(*a) for a in streets],
        )
        load_org(session=session, org=org)


def seed_city(engine: Engine) -> None:
    """Seed with the lead's ``cityops.sim.city.seed`` when it exists, else directly."""
    try:
        from cityops.sim.city import seed
    except ImportError:
        _seed_city_directly(engine)
        return
    with transaction(make_session_factory(engine)) as session:
        summary = seed(session=session, password="bench-password", seed=SEED)
    console.print(f"seeded: {summary}")


def _import_entries(engine: Engine) -> list[dict[str, Any]]:
    with make_session_factory(engine)() as session:
        rows = session.execute(
            select(LedgerEntry.payload).where(LedgerEntry.action == "import_history")
        ).scalars()
        return [json.loads(p) for p in rows]


def _reset(name: str, url: str) -> Engine:
    if name == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(str(VAR / "cityops_bench.db") + suffix).unlink(missing_ok=True)
        engine = make_engine(url)
    else:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(engine)
    return engine


def schema_drift(engine: Engine) -> list[str]:
    """How the database differs from the models: missing tables, other columns, other indexes.

    A bench database built by older code (say, before the KPI indexes became covering) would
    otherwise be reused and measured with the old schema.
    """
    live = inspect(engine)
    tables = set(live.get_table_names())
    out: list[str] = []
    for table in Base.metadata.sorted_tables:
        if table.name not in tables:
            out.append(f"table {table.name} is missing")
            continue
        columns = {c["name"] for c in live.get_columns(table.name)}
        wanted = {c.name for c in table.columns}
        if columns != wanted:
            out.append(f"{table.name} columns differ: {sorted(columns ^ wanted)}")
        indexes = {
            str(ix["name"]): tuple(ix["column_names"]) for ix in live.get_indexes(table.name)
        }
        for ix in table.indexes:
            cols = tuple(c.name for c in ix.columns)
            if indexes.get(str(ix.name)) != cols:
                out.append(f"index {ix.name}: database {indexes.get(str(ix.name))}, model {cols}")
        extra = {n for n in indexes if n.startswith("ix_")} - {str(i.name) for i in table.indexes}
        out.extend(f"index {n} is not in the model" for n in sorted(extra))
    return out


_REBUILT: set[str] = set()  # databases loaded by this process


def _reusable(name: str, engine: Engine, cases: int) -> bool:
    if os.environ.get("BENCH_REBUILD", "") not in ("", "0") and name not in _REBUILT:
        console.print(f"{name}: BENCH_REBUILD set; rebuilding once")
        return False
    if not inspect(engine).has_table("ledger_entry"):
        return False
    drift = schema_drift(engine)
    if drift:
        console.print(f"[yellow]{name}: schema differs from the models; rebuilding[/]")
        for line in drift[:8]:
            console.print(f"  {line}")
        return False
    imports = _import_entries(engine)
    return len(imports) == 1 and imports[0].get("count") == cases and imports[0].get("seed") == SEED


def prepared(name: str, url: str, cases: int, *, rebuild: bool = False) -> Engine:
    """An engine on the bench database holding the city and exactly ``cases`` imported cases."""
    from cityops.sim.history import load_cases

    engine = make_engine(url)
    if not rebuild and _reusable(name, engine, cases):
        console.print(f"{name}: reusing {cases:,} loaded cases")
        return engine
    engine.dispose()
    engine = _reset(name, url)
    started = time.perf_counter()
    seed_city(engine)
    console.print(f"{name}: city seeded in {time.perf_counter() - started:.1f} s")
    with make_session_factory(engine)() as session:
        departments = session.execute(select(func.count()).select_from(Department)).scalar_one()
        grids = session.execute(
            select(func.count()).where(Jurisdiction.level == Level.grid)
        ).scalar_one()
    console.print(f"{name}: {grids:,} grids, {departments:,} departments")
    started = time.perf_counter()
    with _progress(cases) as advance:
        load_cases(
            engine=engine, cases=cases, years=YEARS, until=UNTIL, seed=SEED, progress=advance
        )
    took = time.perf_counter() - started
    console.print(f"{name}: loaded {cases:,} cases in {took:.1f} s ({cases / took:,.0f} rows/s)")
    _save_load(name, cases, took)
    _REBUILT.add(name)
    return engine


def _save_load(name: str, cases: int, took: float) -> None:
    """Keep every load's rate (``load_<db>.json`` lists them; ``best`` is the fastest)."""
    path = RESULTS / f"load_{name}.json"
    runs: list[dict[str, Any]] = []
    if path.exists():
        try:
            old = json.loads(path.read_text())
            runs = [r for r in old.get("runs", []) if r.get("cases") == cases]
        except (ValueError, AttributeError):
            runs = []
    runs.append(
        {
            "cases": cases,
            "seconds": round(took, 2),
            "rows_per_second": round(cases / took),
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
    best = max(runs, key=lambda r: int(r["rows_per_second"]))
    save(f"load_{name}", {**best, "runs": runs})


def imported_last_id(engine: Engine) -> int:
    """The last id of the imported history: later cases were made by the benches."""
    imports = _import_entries(engine)
    return int(imports[-1]["last_id"]) if imports else 0


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("history", total=total)
        yield lambda k: bar.advance(task, k)


def case_count(engine: Engine) -> int:
    with make_session_factory(engine)() as session:
        return int(session.execute(select(func.count()).select_from(Case)).scalar_one())


@dataclass(frozen=True)
class Stats:
    runs: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Stats:
        ms = sorted(s * 1000 for s in seconds)

        def pct(p: float) -> float:
            return round(ms[min(len(ms) - 1, max(0, round(p / 100 * len(ms)) - 1))], 2)

        return cls(
            len(ms), pct(50), pct(95), pct(99), round(ms[-1], 2), round(statistics.fmean(ms), 2)
        )

    def line(self) -> str:
        return (
            f"p50 {self.p50_ms:.1f} ms  p95 {self.p95_ms:.1f} ms  p99 {self.p99_ms:.1f} ms  "
            f"max {self.max_ms:.1f} ms  (n={self.runs})"
        )


def save(name: str, data: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` with the machine and the time of the run."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    body = {"name": name, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), **data}
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def best_and_spread(runs: list[T], key: Callable[[T], float]) -> tuple[T, float]:
    """The best run (lowest ``key``) and the spread: (worst − best) / best, as a fraction."""
    values = [key(r) for r in runs]
    best = min(values)
    return runs[values.index(best)], round((max(values) - best) / best, 3) if best else 0.0

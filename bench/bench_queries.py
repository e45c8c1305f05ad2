"""Read paths on the loaded history: a district's monthly KPI set, and a filtered case page.

Targets: KPI set p95 < 200 ms; case page p95 < 50 ms (first page and the cursor's page 2).
Each figure is measured ``BENCH_REPEAT`` times (default 2) over the same calls; the run with
the lower p95 is reported, with the spread. The slowest call's plans (EXPLAIN QUERY PLAN /
EXPLAIN ANALYZE) go into the JSON.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from bench.common import (
    FOCUS_DISTRICTS,
    SEED,
    UNTIL,
    YEARS,
    Stats,
    backends,
    bench_cases,
    best_and_spread,
    console,
    machine,
    prepared,
    print_machine,
    repeats,
    save,
)
from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases.kpi_query import GroupBy, kpi_rows, month_range
from cityops.cases.models import Case, CaseStatus
from cityops.cases.queries import CaseFilter, list_cases
from cityops.geo.models import Jurisdiction, Level
from cityops.store.engine import make_session_factory

RUNS = 60
WARMUP = 5
TZ = ZoneInfo("Asia/Shanghai")
ADMIN = Principal(0, "bench", Role.city_admin, None)
S = CaseStatus
STATUS_SETS = [
    [S.dispatched, S.in_progress],
    [S.closed, S.evaluated],
    [S.closed],
    [S.void],
    [S.handled, S.verified],
    [S.reported, S.accepted, S.filed],
]
TARGET_MS = {"kpi": 200.0, "page": 50.0}


class Recorder:
    """The SQL statements a timed call sent, so the slowest call's plans can be shown."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.statements.append((statement, params))

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def plans(self, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        out = []
        with self.engine.connect() as conn:
            for sql, params in statements:
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                if self.engine.dialect.name == "sqlite":
                    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
                    plan = [str(r[-1]) for r in rows]
                else:
                    rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).all()
                    plan = [str(r[0]) for r in rows]
                out.append({"sql": " ".join(sql.split())[:600], "plan": plan})
            conn.rollback()
        return out


def _months(rng: random.Random, n: int) -> list[str]:
    months = []
    for _ in range(n):
        back = rng.randrange(0, YEARS * 12)
        y, m = divmod(UNTIL.year * 12 + UNTIL.month - 1 - back, 12)
        months.append(f"{y:04d}-{m + 1:02d}")
    return months


def best_of(
    engine: Engine, calls: list[Callable[[Session], Any]], label: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Measure ``repeats()`` times; the run with the lower p95, its spread, and every run's p95."""
    runs = [_measure(engine, calls) for _ in range(repeats())]
    (stats, detail), spread = best_and_spread(runs, lambda r: r[0].p95_ms)
    console.print(f"  {label:<26} {stats.line()}  best of {len(runs)}, p95 spread {spread:.0%}")
    return {**stats.__dict__, "spread_p95": spread, "p95_runs": [r[0].p95_ms for r in runs]}, detail


def _measure(engine: Engine, calls: list[Callable[[Session], Any]]) -> tuple[Stats, dict[str, Any]]:
    factory = make_session_factory(engine)
    for call in calls[:WARMUP]:
        with factory() as session:
            call(session)
    recorder = Recorder(engine)
    times: list[tuple[float, list[tuple[str, Any]], Any]] = []
    try:
        for call in calls:
            recorder.statements = []
            with factory() as session:
                started = time.perf_counter()
                result = call(session)
                took = time.perf_counter() - started
            times.append((took, list(recorder.statements), result))
    finally:
        recorder.close()
    stats = Stats.of([t for t, _, _ in times])
    slowest = max(times, key=lambda t: t[0])
    return stats, {"slowest_ms": round(slowest[0] * 1000, 2), "plans": recorder.plans(slowest[1])}


def focus_streets(session: Session) -> list[str]:
    """The current streets of the benchmark's focus districts."""
    return list(
        session.execute(
            select(Jurisdiction.code).where(
                Jurisdiction.level == Level.street,
                Jurisdiction.valid_to.is_(None),
                Jurisdiction.district_code.in_(FOCUS_DISTRICTS),
            )
        ).scalars()
    )


def run_backend(name: str, url: str, cases: int) -> dict[str, Any]:
    engine = prepared(name, url, cases)
    rng = random.Random(SEED)
    with Session(engine) as session:
        streets = focus_streets(session)
        total = session.execute(select(Case.id).order_by(Case.id.desc()).limit(1)).scalar()
    console.print(f"[bold]{name}[/]: {total or 0:,} cases; {len(streets)} streets in the focus")
    now = datetime(UNTIL.year, UNTIL.month, UNTIL.day, tzinfo=TZ)

    def kpi(by: GroupBy, district: str | None, month: str) -> Callable[[Session], Any]:
        start, end = month_range(month, tz=TZ)

        def call(session: Session) -> int:
            rows = kpi_rows(
                session=session, start=start, end=end, by=by, jurisdiction=district, now=now
            )
            return len(rows)

        return call

    def page(street: str, month: str, status: list[CaseStatus], second: bool) -> Callable[..., Any]:
        start, end = month_range(month, tz=TZ)
        filters = CaseFilter(
            status=status, jurisdiction=street, reported_from=start, reported_to=end
        )
        cursor: list[str | None] = [None]
        if second:
            with Session(engine) as session:
                first = list_cases(session=session, user=ADMIN, filters=filters, limit=50)
                cursor[0] = first.next_cursor

        def call(session: Session) -> int:
            got = list_cases(
                session=session, user=ADMIN, filters=filters, limit=50, cursor=cursor[0]
            )
            return len(got.items)

        return call

    results: dict[str, Any] = {"cases": total}
    months = _months(rng, RUNS + WARMUP)
    districts = [rng.choice(FOCUS_DISTRICTS) for _ in months]
    plans: dict[str, Any] = {}
    for label, by, scoped in (
        ("kpi_district_by_street", GroupBy.street, True),
        ("kpi_district", GroupBy.district, True),
        ("kpi_city_by_district", GroupBy.district, False),
    ):
        calls = [kpi(by, d if scoped else None, m) for d, m in zip(districts, months, strict=True)]
        results[label], plans[label] = best_of(engine, calls, label)
    picks = [(rng.choice(streets), m, rng.choice(STATUS_SETS)) for m in months]
    for label, second in (("case_page_1", False), ("case_page_2_cursor", True)):
        calls = [page(s, m, st, second) for s, m, st in picks]
        results[label], plans[label] = best_of(engine, calls, label)
    results["plans"] = plans
    engine.dispose()
    return results


def measure_backends(
    name: str,
    run: Callable[[str, str, int], dict[str, Any]],
    targets: dict[str, float],
    target_of: Callable[[str], str | None],
) -> dict[str, Any]:
    """Run ``run`` on each bench database, judge each p95 against its target, save, return."""
    print_machine(machine())
    cases = bench_cases()
    out: dict[str, Any] = {"cases_loaded": cases, "targets_ms_p95": targets}
    measured = backends()
    for backend, url in measured:
        out[backend] = run(backend, url, cases)
    verdicts = []
    for backend, _ in measured:
        for key, value in out[backend].items():
            kind = target_of(key)
            if kind is None or not isinstance(value, dict) or "p95_ms" not in value:
                continue
            ok = value["p95_ms"] < targets[kind]
            verdicts.append(
                f"{backend}.{key}: p50 {value['p50_ms']:.1f} ms, p95 {value['p95_ms']:.1f} ms "
                f"{'OK' if ok else 'MISSED'} (< {targets[kind]:.0f})"
            )
    for line in verdicts:
        console.print(("[green]" if " OK " in line else "[red]") + line)
    out["verdicts"] = verdicts
    console.print(f"wrote {save(name, out)}")
    return out


JUDGED = {
    "kpi_district_by_street": "kpi",
    "kpi_district": "kpi",
    "case_page_1": "page",
    "case_page_2_cursor": "page",
}


def main() -> dict[str, Any]:
    return measure_backends("bench_queries", run_backend, TARGET_MS, JUDGED.get)


if __name__ == "__main__":
    main()

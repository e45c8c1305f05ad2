"""Intake in process: report → 受理 → 立案 → 派遣 (智能立案), one transaction per case.

Reports meet the auto-filing criteria (an auto_file category, a photo, the inspector channel) and
fall at grid centres of the focus districts, one minute apart after the newest case, so none is
a duplicate. Targets on SQLite: ≥ 2,000 cases/s and p99 < 50 ms per case. A cProfile of the
SQLite run shows what dominates.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bench.common import (
    FOCUS_DISTRICTS,
    SEED,
    Stats,
    backends,
    bench_cases,
    console,
    machine,
    prepared,
    print_machine,
    save,
)
from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases.intake import IntakeResult, report, report_batch
from cityops.cases.models import Case, Channel
from cityops.cases.rules import CaseRules, build_rules
from cityops.cases.schemas import CaseCreate, Point
from cityops.clock import FakeClock
from cityops.geo.models import Jurisdiction, Level
from cityops.geo.service import load_index
from cityops.settings import Settings
from cityops.store.engine import make_session_factory

ACTOR = Principal(0, "bench", Role.city_admin, None)
TARGET_RATE, TARGET_P99_MS = 2000.0, 50.0
PROFILE_CASES = 600


def _count() -> int:
    return int(os.environ.get("BENCH_INTAKE", "3000").replace("_", ""))


def _reports(engine: Engine, rules: CaseRules, n: int, rng: random.Random) -> list[CaseCreate]:
    with Session(engine) as session:
        centres = session.execute(
            select(Jurisdiction.center_lat, Jurisdiction.center_lng).where(
                Jurisdiction.level == Level.grid,
                Jurisdiction.valid_to.is_(None),
                Jurisdiction.district_code.in_(FOCUS_DISTRICTS),
            )
        ).all()
    codes = [c.code for c in rules.catalogue.all() if c.auto_file]
    out = []
    for i in range(n):
        lat, lng = rng.choice(centres)
        code = rng.choice(codes)
        out.append(
            CaseCreate(
                category=code,
                channel=Channel.inspector,
                location=Point(lat=lat, lng=lng),
                description=f"监督员巡查发现{rules.catalogue.get(code).name}，编号{i}",
                photos=[f"bench/photo-{i}.jpg"],
            )
        )
    return out


def _run(
    engine: Engine, rules: CaseRules, reports: list[CaseCreate], start: datetime
) -> tuple[list[float], float, dict[str, int]]:
    factory = make_session_factory(engine)
    latencies: list[float] = []
    outcome = {"dispatched": 0, "duplicate": 0, "not_filed": 0}
    began = time.perf_counter()
    for i, data in enumerate(reports):
        at = start + timedelta(minutes=i)
        t0 = time.perf_counter()
        with factory() as session:
            result = report(session=session, rules=rules, data=data, actor=ACTOR, at=at)
            session.commit()
        latencies.append(time.perf_counter() - t0)
        key = (
            "duplicate" if result.duplicate else "dispatched" if result.dispatched else "not_filed"
        )
        outcome[key] += 1
    return latencies, time.perf_counter() - began, outcome


def _run_batched(
    engine: Engine, rules: CaseRules, reports: list[CaseCreate], start: datetime, size: int
) -> tuple[list[float], float, int]:
    """``report_batch``: ``size`` reports per transaction (the HTTP batch door's path)."""
    factory = make_session_factory(engine)
    latencies: list[float] = []
    dispatched = 0
    began = time.perf_counter()
    for i in range(0, len(reports), size):
        t0 = time.perf_counter()
        with factory() as session:
            results = report_batch(
                session=session,
                rules=rules,
                items=reports[i : i + size],
                actor=ACTOR,
                at=start + timedelta(minutes=i),
            )
            session.commit()
        latencies.append(time.perf_counter() - t0)
        dispatched += sum(1 for r in results if isinstance(r, IntakeResult) and r.dispatched)
    return latencies, time.perf_counter() - began, dispatched


def _start_after(engine: Engine) -> datetime:
    with Session(engine) as session:
        newest = session.execute(select(func.max(Case.reported_at))).scalar()
    base = newest or datetime(2026, 11, 25, tzinfo=UTC)
    base = base if base.tzinfo else base.replace(tzinfo=UTC)
    return base + timedelta(days=2)


def run_backend(name: str, url: str, cases: int, profile: bool) -> dict[str, Any]:
    engine = prepared(name, url, cases)
    settings = Settings(database_url=url)
    with Session(engine) as session:
        index = load_index(session=session)
    start = _start_after(engine)
    rules = build_rules(settings=settings, clock=FakeClock(start), index=index)
    rng = random.Random(SEED + len(name))
    n = _count()
    warm = _reports(engine, rules, 50, rng)
    _run(engine, rules, warm, start)
    reports = _reports(engine, rules, n, rng)
    latencies, took, outcome = _run(engine, rules, reports, start + timedelta(days=1))
    stats = Stats.of(latencies)
    rate = n / took
    console.print(
        f"[bold]{name}[/]: {n} reports in {took:.2f} s = {rate:,.0f} cases/s; "
        f"{stats.line()}; {outcome}"
    )
    result: dict[str, Any] = {
        "reports": n,
        "seconds": round(took, 3),
        "cases_per_second": round(rate, 1),
        "latency": stats.__dict__,
        "outcome": outcome,
    }
    size = 100
    more = _reports(engine, rules, n, rng)
    b_lat, b_took, b_done = _run_batched(engine, rules, more, start + timedelta(days=2), size)
    b_stats = Stats.of(b_lat)
    console.print(
        f"{name} batched ({size}/transaction): {n / b_took:,.0f} cases/s; per batch "
        f"{b_stats.line()}; dispatched {b_done}"
    )
    result["batched"] = {
        "batch": size,
        "cases_per_second": round(n / b_took, 1),
        "batch_latency": b_stats.__dict__,
        "dispatched": b_done,
    }
    if profile:
        profiler = cProfile.Profile()
        more = _reports(engine, rules, PROFILE_CASES, rng)
        profiler.enable()
        _run(engine, rules, more, start + timedelta(days=4))
        profiler.disable()
        buf = io.StringIO()
        stats_p = pstats.Stats(profiler, stream=buf)
        stats_p.sort_stats("tottime").print_stats(15)
        stats_p.sort_stats("cumulative").print_stats("cityops", 25)
        print(buf.getvalue())
        result["profile_top"] = buf.getvalue()
    engine.dispose()
    return result


def main() -> dict[str, Any]:
    info = machine()
    print_machine(info)
    cases = bench_cases()
    out: dict[str, Any] = {
        "cases_loaded": cases,
        "targets": {"cases_per_second": TARGET_RATE, "p99_ms": TARGET_P99_MS},
    }
    for name, url in backends():
        out[name] = run_backend(name, url, cases, profile=name == "sqlite")
    s = out["sqlite"]
    ok = s["cases_per_second"] >= TARGET_RATE and s["latency"]["p99_ms"] < TARGET_P99_MS
    verdict = (
        f"sqlite intake: {s['cases_per_second']:,.0f} cases/s, p99 "
        f"{s['latency']['p99_ms']:.1f} ms — {'OK' if ok else 'MISSED'} "
        f"(≥ {TARGET_RATE:,.0f}/s, p99 < {TARGET_P99_MS:.0f} ms)"
    )
    console.print(("[green]" if ok else "[red]") + verdict)
    out["verdict"] = verdict
    path = save("bench_intake", out)
    console.print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()

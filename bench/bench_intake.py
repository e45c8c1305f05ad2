"""Intake in process: report → 受理 → 立案 → 派遣 (智能立案) on the loaded history.

Primary figure: ``report_batch`` with 50 reports per transaction, as a video-analytics or
inspector gateway sends them. Every report meets auto-filing (an auto_file category, a photo,
the inspector or video channel) and falls at a random spot of a unit grid of 九龙坡区 (500107) or
the old 江北 part of 两江新区 (500157), about 53,000 grids, so duplicates are rare (counted).
A report's latency is its batch's wall time, from the batch starting to its commit; throughput
is reports over the summed batch times. Secondary figure: ``report`` (a batch of one).

The city clock starts 2026-03-02 09:00 (Asia/Shanghai), after the bench's own earlier reports,
and moves 30 s per report (about 2,900 reports a day in the two districts, like the loaded
history's busiest days), so the 24-hour duplicate window holds a steady day of open cases.
The working-day calendar only knows 2026, so the clock stays before November; once a database's
clock is used up it is rebuilt.
Targets (both databases): ≥ 2,000 reports/s and p99 < 50 ms. Below target, one more batch run
is profiled (cProfile, top 20 by own time) and printed.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bench.common import (
    FOCUS_DISTRICTS,
    SEED,
    Stats,
    backends,
    bench_cases,
    best_and_spread,
    console,
    imported_last_id,
    machine,
    prepared,
    print_machine,
    repeats,
    save,
)
from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases.intake import IntakeResult, report, report_batch
from cityops.cases.models import Case, Channel
from cityops.cases.rules import CaseRules, build_rules
from cityops.cases.schemas import CaseCreate, Point
from cityops.clock import FakeClock, as_utc
from cityops.errors import CityOpsError
from cityops.geo.models import Jurisdiction, Level
from cityops.geo.service import load_index
from cityops.runtime import settle_heap
from cityops.settings import Settings
from cityops.sim.history_gen import CATEGORY_W
from cityops.store.checkpoint import start_checkpointer
from cityops.store.engine import make_session_factory

TZ = ZoneInfo("Asia/Shanghai")
ACTOR = Principal(0, "bench", Role.city_admin, None)
TARGET_RATE, TARGET_P99_MS = 2000.0, 50.0
BATCH = 50
GAP = timedelta(seconds=30)  # city time between reports: the loaded history's busiest days
START = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
CLOCK_END = datetime(2026, 11, 1, tzinfo=TZ)  # 5-day limits from here still end in 2026
WARMUP = 3000  # a day of reports: the duplicate window is full before measuring
PROFILE_REPORTS = 2000


def _env(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)).replace("_", ""))


@dataclass
class Outcome:
    dispatched: int = 0
    not_filed: int = 0
    duplicate: int = 0
    refused: int = 0

    def add(self, result: IntakeResult | CityOpsError) -> None:
        if isinstance(result, CityOpsError):
            self.refused += 1
        elif result.duplicate:
            self.duplicate += 1
        elif result.dispatched:
            self.dispatched += 1
        else:
            self.not_filed += 1


class Reports:
    """Auto-filing reports at random spots of the focus grids, each one once."""

    def __init__(self, engine: Engine, rules: CaseRules, seed: int) -> None:
        with Session(engine) as session:
            self.grids = session.execute(
                select(
                    Jurisdiction.center_lat,
                    Jurisdiction.center_lng,
                    Jurisdiction.max_lat - Jurisdiction.min_lat,
                    Jurisdiction.max_lng - Jurisdiction.min_lng,
                ).where(
                    Jurisdiction.level == Level.grid,
                    Jurisdiction.valid_to.is_(None),
                    Jurisdiction.center_lat.is_not(None),
                    Jurisdiction.district_code.in_(FOCUS_DISTRICTS),
                )
            ).all()
        self.cats = [c for c in rules.catalogue.all() if c.auto_file]
        self.weights = [CATEGORY_W.get(c.code, 0.4) for c in self.cats]
        self.rng = random.Random(seed)
        self.made = 0

    def take(self, n: int) -> list[CaseCreate]:
        out = []
        for cat in self.rng.choices(self.cats, self.weights, k=n):
            lat, lng, dlat, dlng = (float(v or 0.0) for v in self.rng.choice(self.grids))
            self.made += 1
            channel = Channel.inspector if self.rng.random() < 0.7 else Channel.video
            who = "监督员巡查" if channel is Channel.inspector else "视频识别"
            out.append(
                CaseCreate(
                    category=cat.code,
                    channel=channel,
                    location=Point(
                        lat=lat + (self.rng.random() - 0.5) * 0.6 * dlat,
                        lng=lng + (self.rng.random() - 0.5) * 0.6 * dlng,
                    ),
                    description=f"{who}发现{cat.name}，编号{self.made}",
                    photos=[f"bench/photo-{self.made}.jpg"],
                )
            )
        return out


class CityClock:
    """The city time of the next report; moves ``GAP`` per report."""

    def __init__(self, start: datetime, clock: FakeClock) -> None:
        self.at, self.clock = start, clock

    def take(self, n: int) -> datetime:
        at = self.at
        self.at += GAP * n
        self.clock.set(at)
        return at


def _run(
    engine: Engine, rules: CaseRules, reports: list[CaseCreate], clock: CityClock, size: int
) -> dict[str, Any]:
    """Send ``reports`` in batches of ``size``; each batch one session and one commit."""
    factory = make_session_factory(engine)
    times: list[float] = []  # one per report: its batch's time
    outcome = Outcome()
    cpu0 = time.thread_time()  # this thread's CPU: what the machine's other load cannot inflate
    for i in range(0, len(reports), size):
        part = reports[i : i + size]
        at = clock.take(len(part))
        t0 = time.perf_counter()
        with factory() as session:
            if size == 1:
                results: list[IntakeResult | CityOpsError] = [
                    report(session=session, rules=rules, data=part[0], actor=ACTOR, at=at)
                ]
            else:
                results = report_batch(session=session, rules=rules, items=part, actor=ACTOR, at=at)
            session.commit()
        times.extend([time.perf_counter() - t0] * len(part))
        for result in results:
            outcome.add(result)
    took = sum(times[::size])
    stats = Stats.of(times)
    return {
        "reports": len(reports),
        "batch": size,
        "seconds": round(took, 3),
        "cpu_ms_per_report": round((time.thread_time() - cpu0) * 1000 / len(reports), 3),
        "load_average": round(os.getloadavg()[0], 2),
        "reports_per_second": round(len(reports) / took, 1),
        "latency": asdict(stats),
        "outcome": asdict(outcome),
    }


def _line(name: str, label: str, run: dict[str, Any], spread: float) -> str:
    lat = run["latency"]
    return (
        f"[bold]{name}[/] {label}: {run['reports_per_second']:,.0f} reports/s, latency p50 "
        f"{lat['p50_ms']:.1f} ms p99 {lat['p99_ms']:.1f} ms, {run['cpu_ms_per_report']:.3f} CPU "
        f"ms/report, load {run['load_average']} (n={run['reports']}, best of "
        f"{repeats()}, spread {spread:.0%}); {run['outcome']}"
    )


def _clock_start(engine: Engine) -> datetime:
    """After the bench's own latest report (cases past the imported history), at least START."""
    last_id = imported_last_id(engine)
    with Session(engine) as session:
        latest = session.execute(select(func.max(Case.reported_at)).where(Case.id > last_id))
        newest = latest.scalar()
    return max(START, as_utc(newest) + GAP) if newest else START


def _profile(
    engine: Engine, rules: CaseRules, reports: list[CaseCreate], clock: CityClock
) -> list[str]:
    profiler = cProfile.Profile()
    profiler.enable()
    _run(engine, rules, reports, clock, BATCH)
    profiler.disable()
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(20)
    lines = buf.getvalue().splitlines()
    head = next((i for i, x in enumerate(lines) if x.lstrip().startswith("ncalls")), 0)
    return [x.rstrip() for x in lines[head : head + 21] if x.strip()]


def run_backend(name: str, url: str, cases: int) -> dict[str, Any]:
    n_batch, n_single = _env("BENCH_INTAKE", 10_000), _env("BENCH_INTAKE_SINGLE", 2_000)
    need = WARMUP + repeats() * (n_batch + n_single) + PROFILE_REPORTS
    engine = prepared(name, url, cases)
    start = _clock_start(engine)
    if start + GAP * need > CLOCK_END:
        console.print(f"{name}: the bench's city clock reached {start:%Y-%m-%d}; rebuilding")
        engine.dispose()
        engine = prepared(name, url, cases, rebuild=True)
        start = _clock_start(engine)
    checkpointer = start_checkpointer(engine)  # as the app runs it (cityops.runtime)
    fake = FakeClock(start)
    with Session(engine) as session:
        index = load_index(session=session)
    rules = build_rules(settings=Settings(database_url=url), clock=fake, index=index)
    settle_heap()  # as a running process does once its map and rules are loaded
    source, clock = Reports(engine, rules, SEED + len(name)), CityClock(start, fake)
    console.print(
        f"{name}: city clock from {start.astimezone(TZ):%Y-%m-%d %H:%M}, "
        f"{len(source.grids):,} grids, {len(source.cats)} auto-filing categories"
    )
    _run(engine, rules, source.take(WARMUP), clock, BATCH)
    result: dict[str, Any] = {"clock_start": start.astimezone(TZ).isoformat()}
    for key, size, n in (("batch", BATCH, n_batch), ("single", 1, n_single)):
        runs = [_run(engine, rules, source.take(n), clock, size) for _ in range(repeats())]
        best, spread = best_and_spread(runs, lambda r: r["seconds"] / r["reports"])
        result[key] = {**best, "spread": spread, "runs": runs}
        label = f"batches of {size}" if size > 1 else "single report (batch of one)"
        console.print(_line(name, label, best, spread))
    best = result["batch"]
    ok = best["reports_per_second"] >= TARGET_RATE and best["latency"]["p99_ms"] < TARGET_P99_MS
    result["verdict"] = (
        f"{name} intake (batches of {BATCH}): {best['reports_per_second']:,.0f} reports/s, p99 "
        f"{best['latency']['p99_ms']:.1f} ms: {'OK' if ok else 'MISSED'} "
        f"(≥ {TARGET_RATE:,.0f}/s, p99 < {TARGET_P99_MS:.0f} ms)"
    )
    console.print(("[green]" if ok else "[red]") + result["verdict"])
    if not ok:
        top = _profile(engine, rules, source.take(PROFILE_REPORTS), clock)
        result["profile_top_tottime"] = top
        console.print(f"{name} profile ({PROFILE_REPORTS} reports, batches of {BATCH}):")
        for line in top:
            console.print("  " + line, markup=False, highlight=False)
    result["clock_end"] = clock.at.astimezone(TZ).isoformat()
    if checkpointer is not None:
        checkpointer.stop()
    engine.dispose()
    return result


def main() -> dict[str, Any]:
    info = machine()
    print_machine(info)
    cases = bench_cases()
    out: dict[str, Any] = {
        "cases_loaded": cases,
        "targets": {"reports_per_second": TARGET_RATE, "p99_ms": TARGET_P99_MS},
    }
    for name, url in backends():
        out[name] = run_backend(name, url, cases)
    path = save("bench_intake", out)
    console.print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()

"""Rules engine in process: readings → evaluation → durable state/timers → alarms and commands.

Setup: 100,000 datastreams, 10,000 of them watched by plan instances (the issue's "10,000 active
rules"): 6,000 threshold-with-hysteresis (fan on, alarm), 2,000 n-of-m, 1,000 rate of change,
1,000 no-data. Readings come in batches of ``BENCH_RULES_BATCH`` (default 10,000) spread over all
100,000 streams, values around normal with ~0.2 % of readings crossing a threshold. The database
is a fresh SQLite file (WAL) under var/bench/; every batch is one transaction.

Figures: readings/s over the summed batch times (rules only: the readings themselves are stored
by the sensing layer, not here), and breach → actuator-command latency: from the batch's start to
the actuator call for each command, p50/p99. Target: ≥ 100,000 readings/s, p99 < 50 ms.
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import VAR, console, save
from cityops.clock import FakeClock
from cityops.rules.engine import RulesEngine
from cityops.rules.evaluate import Reading
from cityops.rules.plans import PlanSet, parse_plan
from cityops.rules.ports import BusNotifier, SourceInfo, StaticDirectory
from cityops.store.base import Base, import_all_models
from cityops.store.engine import make_engine, make_session_factory

STREAMS = 100_000
KINDS = (("th", 6000), ("nm", 2000), ("rate", 1000), ("nodata", 1000))


class TimedActuator:
    def __init__(self) -> None:
        self.t0 = 0.0
        self.latencies: list[float] = []

    def actuate(self, **kw: Any) -> str:
        self.latencies.append(time.perf_counter() - self.t0)
        return "cmd"


def plans() -> tuple[PlanSet, StaticDirectory]:
    directory = StaticDirectory()
    triggers = {
        "th": {"type": "above", "value": 25, "clear": 20},
        "nm": {"type": "n_of_m", "n": 3, "m": 5, "above": 25},
        "rate": {"type": "rate", "per": "1m", "above": 30},
        "nodata": {"type": "no_data", "for": "15m"},
    }
    out, ds = [], 0
    for kind, n in KINDS:
        for _ in range(n):
            directory.add(SourceInfo(ds, observed_property=kind, actuators={"fan": 900_000 + ds}))
            ds += 1
        actions: list[dict[str, Any]] = [{"type": "alarm", "severity": "orange"}]
        if kind == "th":
            actions.insert(0, {"type": "actuate", "target": "fan", "command": "on"})
        out.append(
            parse_plan(
                {
                    "id": f"bench-{kind}",
                    "name": kind,
                    "sources": [{"selector": {"observed_property": kind}}],
                    "trigger": triggers[kind],
                    "actions": actions,
                    "on_clear": [{"type": "clear_alarm"}],
                }
            )
        )
    return PlanSet(plans=out), directory


def main() -> None:
    batch = int(os.environ.get("BENCH_RULES_BATCH", "10000"))
    total = int(os.environ.get("BENCH_RULES_READINGS", "1000000"))
    VAR.mkdir(parents=True, exist_ok=True)
    path = VAR / "rules.db"
    for p in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
        p.unlink(missing_ok=True)
    import_all_models()
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    clock = FakeClock(datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    ps, directory = plans()
    actuator = TimedActuator()
    rules = RulesEngine(
        sessions=make_session_factory(engine), clock=clock, plans=ps, directory=directory,
        actuator=actuator, notifier=BusNotifier(),
    )  # fmt: skip
    rng = random.Random(7)
    spent, done, fired = 0.0, 0, 0
    while done < total:
        now = clock.advance(timedelta(seconds=10))
        ids = [rng.randrange(STREAMS) for _ in range(batch)]
        vals = [rng.gauss(10, 3) if rng.random() > 0.002 else rng.uniform(26, 60) for _ in ids]
        readings = [Reading(i, now, v) for i, v in zip(ids, vals, strict=True)]
        actuator.t0 = t0 = time.perf_counter()
        result = rules.process(readings)
        spent += time.perf_counter() - t0
        done += batch
        fired += result.fired
    t0 = time.perf_counter()
    clock.advance(timedelta(hours=1))
    ticked = rules.tick()
    tick_s = time.perf_counter() - t0
    lat = sorted(actuator.latencies) or [0.0]
    figures = {
        "readings": done,
        "batch": batch,
        "watched_streams": sum(n for _, n in KINDS),
        "streams": STREAMS,
        "readings_per_s": round(done / spent),
        "firings": fired,
        "commands": len(actuator.latencies),
        "command_latency_ms_p50": round(lat[len(lat) // 2] * 1000, 1),
        "command_latency_ms_p99": round(lat[int(len(lat) * 0.99)] * 1000, 1),
        "tick_timers": ticked.timers_fired,
        "tick_s": round(tick_s, 2),
    }
    console.print(figures)
    save("bench_rules", figures)


if __name__ == "__main__":
    main()

"""End to end in one process: intake → validate → durable store → rules → alarms and commands.

Issue 3's first benchmark: embedded SQLite (WAL), one process on this 2-core machine,
``BENCH_PIPELINE_OBS`` observations (default 5,000,000) over 100,000 datastreams, 10,000 of them
watched by a threshold plan (above 25, clear below 20) whose actions start the 部件's fan
(``actuate``) and raise an alarm: 10,000 active rule instances.

The real path: the devices are provisioned in bulk (Core inserts, then
``sensing.catalogue.bump_catalogue``); the plan comes from a YAML file passed as
``CITYOPS_RULES_PLANS_PATH``; ``start_automation`` binds it through the real ``SensingDirectory``
and starts the ``RulesFeed`` thread and ``SensingUpkeep``. The main thread plays the door:
``sensing.door.take_in`` per batch of 10,000 raw ``[datastream, ISO time, value]`` readings, as
the HTTP, MQTT and NATS doors do: validate, let the engine react (the ``ActuatorCommand`` in its
own small transaction, whose commit publishes ``actuators.command``), then store the batch.

``BENCH_PIPELINE_BATCH`` (default 10,000) readings go into one ingest transaction.
Breaches: ``BENCH_PIPELINE_BREACHES`` (default 1,000, each on a different watched datastream)
spread evenly over the run. Breach → command latency is from the start of the ingest of the
breach's batch to the ``actuators.command`` event (published right after the command's commit);
the figures also count the commands that went out before their batch was stored.

Figures: observations/s on the wall clock (first ingest to the feed drained) and per CPU second
of the process (all threads), the load average (the machine is shared), the ingest-only rate,
the feed's lag at the end (time to drain after the last ingest), breach → command p50/p99 and,
when below target, a cProfile of the main thread (the door and the rules it runs; top 15 by own
time and top 25 by cumulative time) over a further ``BENCH_PIPELINE_PROFILE_OBS`` (default
500,000) observations.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import time
from datetime import datetime, timedelta
from itertools import repeat
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from bench.common import VAR, console, machine, print_machine, save
from cityops.api.context import AppContext
from cityops.automation import start_automation
from cityops.bus.memory import Event
from cityops.registry.models import Component
from cityops.sensing import catalogue, door, service
from cityops.sensing.models import Datastream, Thing
from cityops.settings import Settings
from cityops.store.base import Base, import_all_models
from cityops.store.engine import make_engine

DATASTREAMS = 100_000
PER_THING = 4
WATCHED = 10_000  # the first datastream of things 1..10,000, each on its own 部件 with a fan
FAN0 = DATASTREAMS // PER_THING  # fan thing ids: FAN0 + 1 .. FAN0 + WATCHED
BATCH = int(os.environ.get("BENCH_PIPELINE_BATCH", "10000").replace("_", ""))  # per ingest
TARGET_RATE = 100_000
TARGET_P99_MS = 50.0
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
PLANS = """\
plans:
  - id: bench-gas
    name: gas over 25 starts the fan
    sources: [{selector: {observed_property: GAS}}]
    trigger: {type: above, value: 25, clear: 20}
    actions:
      - {type: actuate, target: fan, command: "on"}
      - {type: alarm, severity: orange}
    on_clear: [{type: clear_alarm}]
"""
import_all_models()


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)).replace("_", ""))


def watched_ds(j: int) -> int:
    """The datastream of the j-th watched thing (1-based)."""
    return (j - 1) * PER_THING + 1


def is_watched(d: int) -> bool:
    return (d - 1) % PER_THING == 0 and (d - 1) // PER_THING < WATCHED


def provision(url: str) -> None:
    """100,000 datastreams on 25,000 things; 10,000 of them on a 部件 with a fan (bulk)."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    rng = random.Random(7)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sta_sensor (id, name, description, encoding_type, metadata)"
                " VALUES (1, 'meter', '', 'text/plain', '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sta_observed_property (id, name, definition, description)"
                " VALUES (1, 'TEMP', '', ''), (2, 'GAS', '', '')"
            )
        )
        conn.execute(
            insert(Component),
            [
                {
                    "id": j,
                    "ident": f"500107019{j:08d}",
                    "name": f"化粪池{j}",
                    "category_code": "01901",
                    "grid_code": "500107001001001",
                    "district_code": "500107",
                    "street_code": "500107001",
                    "lat": 29.3 + rng.random() * 0.5,
                    "lng": 106.3 + rng.random() * 0.6,
                }
                for j in range(1, WATCHED + 1)
            ],
        )
        things: list[dict[str, Any]] = [
            {
                "id": i,
                "name": f"detector {i}",
                "component_id": i if i <= WATCHED else None,
                "is_actuator": False,
                "command_topic": None,
                "properties": None,
            }
            for i in range(1, FAN0 + 1)
        ]
        things += [
            {
                "id": FAN0 + j,
                "name": f"fan {j}",
                "component_id": j,
                "is_actuator": True,
                "command_topic": f"cityops/v1/things/{FAN0 + j}/commands",
                "properties": {"role": "fan"},
            }
            for j in range(1, WATCHED + 1)
        ]
        conn.execute(insert(Thing), things)
        conn.execute(
            insert(Datastream),
            [
                {
                    "id": d,
                    "name": f"ds {d}",
                    "unit_of_measurement": {"name": "", "symbol": "", "definition": ""},
                    "observation_type": MEASUREMENT,
                    "thing_id": (d - 1) // PER_THING + 1,
                    "sensor_id": 1,
                    "observed_property_id": 2 if is_watched(d) else 1,
                }
                for d in range(1, DATASTREAMS + 1)
            ],
        )
    from cityops.store.engine import make_session_factory, transaction

    with transaction(make_session_factory(engine)) as session:
        catalogue.bump_catalogue(session=session)
    engine.dispose()


def fresh_db() -> str:
    VAR.mkdir(parents=True, exist_ok=True)
    path = VAR / "pipeline.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"


class Door:
    """The main thread's door: batches of raw readings in, one unit of work each."""

    def __init__(self, ctx: AppContext, total: int, breaches: int, start: datetime) -> None:
        self.ctx = ctx
        self.batches = max(1, total // BATCH)
        rng = random.Random(11)
        ids = list(range(1, DATASTREAMS + 1))
        rng.shuffle(ids)
        self.slices = [ids[i : i + BATCH] for i in range(0, DATASTREAMS, BATCH)]
        # values stay under the clear level (20) unless a breach is injected
        self.pool = [min(19.0, max(0.0, rng.gauss(10, 3))) for _ in range(DATASTREAMS + BATCH)]
        self.start = start
        # breach k: in batch k * batches // breaches, on a watched stream of that batch's slice
        watched_at = [[(pos, d) for pos, d in enumerate(s) if is_watched(d)] for s in self.slices]
        used: set[int] = set()
        self.plan: dict[int, list[tuple[int, int]]] = {}
        for k in range(min(breaches, WATCHED)):
            b = k * self.batches // max(1, breaches)
            for pos, d in watched_at[b % len(self.slices)]:
                if d not in used:
                    used.add(d)
                    self.plan.setdefault(b, []).append((pos, d))
                    break
        self.started: dict[int, float] = {}  # breached datastream → its batch's ingest start
        self.committed: dict[int, float] = {}  # → when that batch's transaction had committed
        self.ingest_wall = 0.0
        self.done_at: list[float] = []  # when each batch of the timed run had committed
        self.stored = 0
        self.offset = 0  # batches already sent (a profile run continues the times)

    def raw(self, b: int) -> list[Any]:
        n = self.offset + b
        ids = self.slices[n % len(self.slices)]
        when = (self.start + timedelta(seconds=10 * (n // len(self.slices)))).isoformat()
        o = (n * 7919) % DATASTREAMS
        out: list[Any] = list(zip(ids, repeat(when), self.pool[o : o + BATCH], strict=False))
        for pos, d in self.plan.get(b, ()) if not self.offset else ():
            out[pos] = (d, when, 40.0)
        return out

    def run(self, batches: int) -> None:
        ctx = self.ctx
        for b in range(batches):
            raw = self.raw(b)
            t0 = time.perf_counter()
            if not self.offset:
                for _pos, d in self.plan.get(b, ()):
                    self.started[d] = t0
            result = door.take_in(
                sessions=ctx.sessions,
                clock=ctx.clock,
                settings=ctx.settings,
                raws=raw,
                source="bench",
                bus=ctx.bus,
                reactor=door.reactor_in(ctx.extras),
            )
            t1 = time.perf_counter()
            self.ingest_wall += t1 - t0
            if not self.offset:
                self.done_at.append(t1)
            if not self.offset:
                for _pos, d in self.plan.get(b, ()):
                    self.committed[d] = t1
            self.stored += result.stored
            if result.rejected:
                bad = result.rejected
                raise SystemExit(f"batch {b}: {len(bad)} rejected, the first: {bad[0]}")
        self.offset += batches


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))] * 1000, 1)


def top(profile: cProfile.Profile, n: int = 15, by: str = "tottime") -> list[str]:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(by).print_stats(n)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return lines[start : start + n + 1]


def profile_run(door: Door, observations: int) -> dict[str, list[str]]:
    """cProfile the main thread for a while: the door, which now also runs the rules."""
    main_prof = cProfile.Profile()
    main_prof.enable()
    door.run(max(1, observations // BATCH))
    main_prof.disable()
    return {
        "main_thread_top15": top(main_prof),
        "main_thread_cumulative": top(main_prof, 25, "cumulative"),
    }


def main() -> None:
    total = env_int("BENCH_PIPELINE_OBS", 5_000_000)
    breaches = env_int("BENCH_PIPELINE_BREACHES", 1000)
    url = fresh_db()
    info = machine()
    print_machine(info)
    t0 = time.perf_counter()
    provision(url)
    console.print(f"provisioned 100,000 datastreams in {time.perf_counter() - t0:.1f} s")
    plans = VAR / "pipeline_plans.yaml"
    plans.write_text(PLANS, encoding="utf-8")
    from cityops.runtime import build_context

    settings = Settings(
        database_url=url,
        rules_plans_path=plans,
        secret_key="bench-secret-key-0123456789abcdef",
    )
    ctx = build_context(settings, migrate=False)
    t0 = time.perf_counter()
    auto = start_automation(ctx)
    engine, feed = auto.engine, auto.feed
    assert engine is not None and feed is not None  # the memory bus: rules run in process
    bound = len(engine.instances)
    console.print(f"bound {bound:,} rule instances in {time.perf_counter() - t0:.1f} s")
    if bound != WATCHED:
        raise SystemExit(f"expected {WATCHED} instances, got {bound}: {engine.problems}")

    commands: dict[int, float] = {}  # breached datastream → when its command was committed

    def on_command(event: Event) -> None:
        commands[watched_ds(int(event.data["thing_id"]) - FAN0)] = time.perf_counter()

    ctx.bus.subscribe(service.SUBJECT_COMMAND, on_command)
    door = Door(ctx, total, breaches, ctx.clock.now() - timedelta(hours=2))
    load_before = os.getloadavg()
    cpu0, w0 = time.process_time(), time.perf_counter()
    door.run(door.batches)
    ingest_end = time.perf_counter()
    drained = feed.drain(timeout=900)
    w1, cpu1 = time.perf_counter(), time.process_time()
    load_after = os.getloadavg()
    wall, cpu = w1 - w0, cpu1 - cpu0
    lat = [commands[d] - t for d, t in door.started.items() if d in commands]
    react = [commands[d] - t for d, t in door.committed.items() if d in commands]
    marks = [w0, *door.done_at]
    tenth = max(1, len(door.done_at) // 10)
    deciles = [
        round(BATCH * tenth / (marks[i + tenth] - marks[i]))
        for i in range(0, len(door.done_at) - tenth + 1, tenth)
    ]
    missing = len(door.started) - len(lat)
    figures: dict[str, Any] = {
        "observations": door.stored,
        "datastreams": DATASTREAMS,
        "rule_instances": bound,
        "batch": BATCH,
        "database": "sqlite (WAL, one file)",
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "obs_per_s_wall": round(door.stored / wall),
        "obs_per_s_per_cpu_s": round(door.stored / cpu),
        "obs_per_s_ingest_only": round(door.stored / door.ingest_wall),
        "cpu_utilisation": round(cpu / wall, 2),
        "ingest_obs_per_s_by_tenth": deciles,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "feed_lag_at_end_s": round(w1 - ingest_end, 2),
        "feed_drained": drained,
        "feed_processed": feed.processed,
        "feed_failures": feed.failures,
        "breaches": len(door.started),
        "commands_for_breaches": len(lat),
        "breaches_without_command": missing,
        "breach_to_command_ms_p50": pct(lat, 50),
        "breach_to_command_ms_p99": pct(lat, 99),
        "breach_to_command_ms_max": pct(lat, 100),
        "commands_before_their_batch_was_stored": sum(1 for x in react if x < 0),
        "target_obs_per_s": TARGET_RATE,
        "target_p99_ms": TARGET_P99_MS,
    }
    console.print(figures)
    below = (
        figures["obs_per_s_wall"] < TARGET_RATE
        or not lat
        or figures["breach_to_command_ms_p99"] >= TARGET_P99_MS
    )
    if below and os.environ.get("BENCH_PIPELINE_PROFILE", "1") != "0":
        n = env_int("BENCH_PIPELINE_PROFILE_OBS", 500_000)
        console.print(f"below target: profiling {n:,} more observations")
        figures["profile"] = prof = profile_run(door, n)
        feed.drain(timeout=600)
        for name, lines in prof.items():
            console.print(f"[bold]{name}[/]")
            for line in lines:
                console.print(line)
    auto.stop()
    ctx.engine.dispose()
    save("bench_pipeline", figures)


if __name__ == "__main__":
    main()

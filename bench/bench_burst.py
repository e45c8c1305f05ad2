"""A 10× burst above the sustained rate (issue 3): no crash, no loss, memory bounded, lag drains.

1. **R**, the consumer's sustained rate on the compact bulk topic: a drain run as in
   ``bench_mqtt`` (the backlog is queued first, then the consumer alone empties it).
2. One live consumer (``MqttConsumer`` + ``SqliteReadingStore``, in a process of its own so its
   memory can be read) runs throughout. Two publisher processes offer R readings/s for a
   warm-up, then ``factor`` × R for the burst, paced (on a schedule, not as fast as they can;
   built before the clock starts); the rate they achieved is reported too.
3. Every second: readings published (acknowledged by the broker), stored, the lag, and the
   resident memory of the consumer and of the broker, which holds the backlog.
4. After the burst the consumer runs on until everything is stored (or a timeout: a failure).

Memory: the consumer holds at most its pending cap (``max_pending_bytes``, two batches beside)
or the broker's in-flight window (``max_inflight_messages`` × message size), whichever is less,
plus SQLite's page cache (``cache_size``), whatever the lag. The check is peak RSS ≤ warm-up RSS
+ those two + a margin, with the lag's own size beside it (is it telling?).

Sizes: ``BENCH_BURST_SECONDS`` (60), ``BENCH_BURST_WARMUP_SECONDS`` (10), ``BENCH_BURST_FACTOR``
(10), ``BENCH_BURST_RATE_READINGS`` (500,000 readings to measure R),
``BENCH_BURST_DRAIN_TIMEOUT`` (1,800 s), ``BENCH_BURST_MARGIN_MB`` (100).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from tests.sensing.mqtt.broker import Broker

from bench.bench_mqtt import (
    BULK_ROWS,
    CLOCK,
    DATASTREAMS,
    WINDOW,
    fresh_broker,
    fresh_store,
    measure,
)
from bench.common import VAR, console, machine, print_machine, save
from bench.mqtt_load import bulk_packets, publish_all
from cityops.sensing.mqtt import MqttConsumer
from cityops.sensing.mqtt_store import SqliteReadingStore

PUBLISHERS = 2
STORE = "mqtt_burst.db"
TICK = 0.05  # how often the watcher looks; a sample is kept every second
SERIES_POINTS = 400  # the saved series is thinned to about this many samples
COUNTERS = ("stored", "duplicates", "store_failures", "dead_letters", "connects")


def _env(name: str, default: str) -> float:
    return float(os.environ.get(name, default).replace("_", ""))


@dataclass(frozen=True)
class _Phase:
    """One publisher's share of a phase: readings from ``first``, offered at ``rate`` per s."""

    first: int
    readings: int
    rate: float


def _chunks(phase: _Phase) -> tuple[list[bytes], int, float]:
    """(chunks, messages, chunks per second): messages grouped to send about every 10 ms."""
    packets = bulk_packets(phase.first, phase.readings, DATASTREAMS, BULK_ROWS)
    group = max(1, round(phase.rate / BULK_ROWS / 100))
    chunks = [b"".join(packets[i : i + group]) for i in range(0, len(packets), group)]
    return chunks, len(packets), phase.rate / BULK_ROWS / group


def _publisher(
    port: int, name: str, phases: list[_Phase], gos: list[Any], acked: Any, out: Any
) -> None:
    built = [_chunks(p) for p in phases]
    out.put(("ready", 0.0))

    def count(messages: int) -> None:
        with acked.get_lock():
            acked.value += messages * BULK_ROWS

    for i, ((chunks, messages, rate), go) in enumerate(zip(built, gos, strict=True)):
        go.wait()
        took = publish_all(port, f"{name}-{i}", chunks, messages, WINDOW, rate=rate, on_acked=count)
        out.put((f"phase{i}", took))


def _consumer(url: str, client_id: str, counters: Any, ready: Any, stop: Any) -> None:
    """The live consumer (a child process): stats copied to ``counters`` every 0.1 s."""
    store, _ = fresh_store(STORE)

    async def run() -> None:
        consumer = MqttConsumer(url=url, handler=store, clock=CLOCK, client_id=client_id)
        halt = asyncio.Event()
        task = asyncio.ensure_future(consumer.run(halt))
        await consumer.connected.wait()
        ready.set()
        while not stop.is_set():
            counters[:] = [getattr(consumer.stats, c) for c in COUNTERS]
            if task.done():
                raise RuntimeError("the consumer's run() ended before it was stopped")
            await asyncio.sleep(0.1)
        halt.set()
        await task
        counters[:] = [getattr(consumer.stats, c) for c in COUNTERS]

    asyncio.run(run())
    store.close()


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS), 0 once it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class _Watch:
    """Samples the run once a second while waiting for the end of a phase."""

    consumer: Any
    broker_pid: int
    acked: Any
    counters: Any
    started: float = field(default_factory=time.perf_counter)
    samples: list[dict[str, Any]] = field(default_factory=list)
    crashed: bool = False

    @property
    def published(self) -> int:
        return int(self.acked.value)

    @property
    def stored(self) -> int:
        return int(self.counters[0])

    def sample(self, phase: str) -> dict[str, Any]:
        row = {
            "t": round(time.perf_counter() - self.started, 2),
            "phase": phase,
            "published": self.published,
            "stored": self.stored,
            "lag": self.published - self.stored,
            "consumer_rss_mb": round(rss_mb(self.consumer.pid), 1),
            "broker_rss_mb": round(rss_mb(self.broker_pid), 1),
        }
        self.samples.append(row)
        if len(self.samples) % 5 == 1:
            console.print(
                f"{row['t']:7.1f} s {phase:7} published {row['published']:>12,} "
                f"stored {row['stored']:>12,} lag {row['lag']:>12,}  "
                f"consumer {row['consumer_rss_mb']:,.0f} MB  broker {row['broker_rss_mb']:,.0f} MB"
            )
        return row

    def until(self, phase: str, done: Callable[[], bool], timeout: float) -> float:
        """Sample until ``done()`` (or the consumer dies, or ``timeout``); the seconds it took."""
        began = time.perf_counter()
        next_sample = began
        while not done():
            now = time.perf_counter()
            if not self.consumer.is_alive():
                self.crashed = True
                break
            if now - began > timeout:
                break
            if now >= next_sample:
                self.sample(phase)
                next_sample += 1.0
            time.sleep(TICK)
        took = time.perf_counter() - began
        self.sample(phase)
        return took


def _message_bytes() -> int:
    return len(bulk_packets(0, BULK_ROWS, DATASTREAMS, BULK_ROWS)[0])


def _held_mb() -> float:
    """What the consumer keeps received but not stored: its pending cap and two batches (one
    decoding, one storing), whichever the broker's window does not bound first."""
    params = inspect.signature(MqttConsumer).parameters
    pending = int(params["max_pending_bytes"].default)
    batch = int(params["max_batch_bytes"].default)
    return (pending + 2 * batch) / 2**20


def _window_mb(broker: Broker) -> float:
    """What the broker may have in flight to the consumer: its limit × one bulk message."""
    inflight = next(
        int(line.split()[1])
        for line in broker.config.splitlines()
        if line.startswith("max_inflight_messages")
    )
    return inflight * _message_bytes() / 2**20


def _stored_and_cache(path: Path) -> tuple[int, float]:
    """Rows in the store, and the MB of SQLite page cache a store connection may hold."""
    store = SqliteReadingStore(path)
    try:
        count = store.count()
        size = int(store.conn.execute("PRAGMA cache_size").fetchone()[0])
        page = int(store.conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        store.close()
    return count, (-size * 1024 if size < 0 else size * page) / 2**20


def _verdict(ok: bool, what: str, detail: str) -> dict[str, Any]:
    console.print(f"{'[green]PASS[/]' if ok else '[red]FAIL[/]'} {what}: {detail}")
    return {"check": what, "pass": ok, "detail": detail}


def _thin(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    step = max(1, -(-len(samples) // SERIES_POINTS))
    return samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])


def _plan(rate: float, factor: float, warmup: float, seconds: float) -> list[list[_Phase]]:
    """Each publisher's warm-up and burst: whole messages, distinct readings throughout."""

    def share(per_second: float, span: float) -> int:
        return int(per_second * span / PUBLISHERS) // BULK_ROWS * BULK_ROWS

    warm, burst = share(rate, warmup), share(rate * factor, seconds)
    base = warm * PUBLISHERS
    return [
        [
            _Phase(i * warm, warm, rate / PUBLISHERS),
            _Phase(base + i * burst, burst, rate * factor / PUBLISHERS),
        ]
        for i in range(PUBLISHERS)
    ]


def _burst(broker: Broker, rate: float) -> dict[str, Any]:
    """Warm-up at ``rate``, the burst, the drain; the samples and what the checks need."""
    factor = _env("BENCH_BURST_FACTOR", "10")
    warmup = _env("BENCH_BURST_WARMUP_SECONDS", "10")
    seconds = _env("BENCH_BURST_SECONDS", "60")
    plans = _plan(rate, factor, warmup, seconds)
    # The consumer is spawned, not forked, so its memory is its own and not a copy of ours.
    spawn, ctx = multiprocessing.get_context("spawn"), multiprocessing.get_context("fork")
    counters, ready, stop = spawn.Array("q", len(COUNTERS)), spawn.Event(), spawn.Event()
    acked, results, gos = ctx.Value("q", 0), ctx.Queue(), [ctx.Event(), ctx.Event()]
    client_id = f"bench-burst-{time.monotonic_ns()}"
    consumer = spawn.Process(target=_consumer, args=(broker.url, client_id, counters, ready, stop))
    consumer.start()
    publishers = [
        ctx.Process(target=_publisher, args=(broker.port, f"burst{i}", plan, gos, acked, results))
        for i, plan in enumerate(plans)
    ]
    try:
        if not ready.wait(30):
            raise RuntimeError("the consumer did not connect within 30 s")
        for p in publishers:
            p.start()
        for _ in publishers:
            results.get(timeout=1800)  # built
        assert broker.process is not None
        watch = _Watch(consumer, broker.process.pid, acked, counters)
        idle_rss = watch.sample("idle")["consumer_rss_mb"]
        gos[0].set()
        watch.until("warm-up", lambda: time.perf_counter() - watch.started >= warmup, warmup + 60)
        warm_rss = max(s["consumer_rss_mb"] for s in watch.samples)
        gos[1].set()
        took: dict[str, list[float]] = {"phase0": [], "phase1": []}

        def published_all() -> bool:
            with contextlib.suppress(queue.Empty):
                while True:
                    name, seconds_taken = results.get_nowait()
                    took[name].append(seconds_taken)
            if any(not p.is_alive() and p.exitcode for p in publishers):
                raise RuntimeError("a publisher process failed")
            return len(took["phase1"]) == PUBLISHERS

        watch.until("burst", published_all, seconds * 20 + 600)
        total = sum(p.readings for plan in plans for p in plan)
        timeout = _env("BENCH_BURST_DRAIN_TIMEOUT", "1800")
        drain = watch.until("drain", lambda: watch.stored >= total, timeout)
        stop.set()
        consumer.join(120)
        burst_n = sum(plan[1].readings for plan in plans)
        return {
            "factor": factor,
            "warmup_seconds": warmup,
            "burst_seconds": seconds,
            "readings": total,
            "published": watch.published,
            "offered_per_second": round(rate * factor),
            "achieved_per_second": round(burst_n / max(took["phase1"] or [1e-9])),
            "drain_seconds": round(drain, 2),
            "drained": watch.stored >= total,
            "idle_rss_mb": idle_rss,
            "warmup_rss_mb": warm_rss,
            "crashed": watch.crashed or consumer.exitcode != 0,
            "exitcode": consumer.exitcode,
            "counters": dict(zip(COUNTERS, counters[:], strict=True)),
            "samples": watch.samples,
        }
    finally:
        children: list[BaseProcess] = [*publishers, consumer]
        for child in children:
            if child.pid is not None and child.is_alive():
                child.terminate()
                child.join(10)


def _checks(run: dict[str, Any], stored: int, bounds: dict[str, float]) -> list[dict[str, Any]]:
    """The four PASS/FAIL lines; ``bounds`` are the fixed MB the consumer may add after warm-up."""
    c, samples = run["counters"], run["samples"]
    peak = max(s["consumer_rss_mb"] for s in samples if s["phase"] in ("burst", "drain"))
    limit = run["warmup_rss_mb"] + sum(bounds.values())
    terms = " + ".join(f"{k} {v:,.0f}" for k, v in bounds.items())
    lag_mb = run["peak_lag"] / BULK_ROWS * _message_bytes() / 2**20
    crash_free = not (run["crashed"] or c["store_failures"] or c["dead_letters"])
    return [
        _verdict(
            crash_free and c["connects"] == 1,
            "no crash",
            f"exit code {run['exitcode']}, {c['store_failures']} store failures, "
            f"{c['dead_letters']} dead letters, {c['connects']} connection(s)",
        ),
        _verdict(
            stored == run["published"] == run["readings"],
            "no loss",
            f"{stored:,} distinct readings stored of {run['published']:,} published "
            f"({run['readings']:,} planned; {c['duplicates']:,} redelivered duplicates)",
        ),
        _verdict(
            peak <= limit,
            "memory bounded",
            f"consumer peak {peak:,.0f} MB, after warm-up {run['warmup_rss_mb']:,.0f} MB; limit "
            f"{limit:,.0f} MB (warm-up + {terms}); peak lag {run['peak_lag']:,} readings "
            f"= {lag_mb:,.0f} MB of messages"
            + ("" if lag_mb > sum(bounds.values()) else " (too small a lag to tell)"),
        ),
        _verdict(
            bool(run["drained"]) and samples[-1]["lag"] == 0,
            "lag drains",
            f"final lag {samples[-1]['lag']:,}, drained {run['drain_seconds']:.1f} s after the "
            "burst",
        ),
    ]


def main() -> None:
    info = machine()
    print_machine(info)
    load = os.getloadavg()
    console.print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    broker = fresh_broker("mosquitto_burst")
    console.print(f"mosquitto {broker.binary} on port {broker.port}")
    try:
        sized = int(_env("BENCH_BURST_RATE_READINGS", "500000"))
        sustained = measure(broker, "bulk", sized, "drain")
        rate = float(sustained["per_second"])
        console.print(f"R (bulk drain, {sized:,} readings): {rate:,.0f} readings/s")
        broker.stop()  # a fresh broker: no session left from measuring R queues the burst too
        broker.start()
        run = _burst(broker, rate)
        window = _window_mb(broker)
    finally:
        broker.stop()
    samples = run["samples"]
    run["peak_lag"] = max(s["lag"] for s in samples)
    run["peak_consumer_rss_mb"] = max(s["consumer_rss_mb"] for s in samples)
    run["peak_broker_rss_mb"] = max(s["broker_rss_mb"] for s in samples)
    stored, cache = _stored_and_cache(VAR / STORE)
    bounds = {
        "messages held": min(window, _held_mb()),
        "SQLite cache": cache,
        "margin": _env("BENCH_BURST_MARGIN_MB", "100"),
    }
    console.print(
        f"offered {run['offered_per_second']:,} readings/s for {run['burst_seconds']:.0f} s "
        f"({run['factor']:g} × R); the publishers achieved {run['achieved_per_second']:,}/s; "
        f"peak lag {run['peak_lag']:,}; broker peak {run['peak_broker_rss_mb']:,.0f} MB"
    )
    checks = _checks(run, stored, bounds)
    path = save(
        "bench_burst",
        {
            "load_average_before": load,
            "broker_config": broker.config.splitlines(),
            "sustained": sustained,
            "rate_per_second": rate,
            **{k: v for k, v in run.items() if k != "samples"},
            "stored": stored,
            "memory_bounds_mb": {k: round(v, 1) for k, v in bounds.items()},
            "checks": checks,
            "series": _thin(samples),
        },
    )
    console.print(f"saved {path}")


if __name__ == "__main__":
    main()

"""MQTT door through Mosquitto at QoS 1: observations/s into the store (issue 3's benchmark).

Targets: ≥ 50,000/s with one observation per message, ≥ 100,000/s on the compact bulk topic.

Each figure is measured two ways on a throwaway broker (the installed ``mosquitto``, config
printed below):

- **drain** (the consumer's figure): the messages are published while the consumer is away
  (its persistent session queues them in the broker), then the consumer starts and the clock
  runs until every reading is stored and acknowledged; the publisher is not running.
- **live**: publishers (separate processes) and the consumer run at once, as in the field; on
  2 cores they share the CPU with the broker, so this is lower.

The publisher's own capacity is measured alone first. The store is
:class:`cityops.sensing.mqtt_store.SqliteReadingStore` on a file under ``var/bench/``
(WAL, one transaction per batch); the drain is then measured once more through the real sensing
store (``SensingIngest`` on a file with 100,000 datastreams), which is what a deployment runs.
``BENCH_MQTT_MESSAGES`` (default 400,000) and
``BENCH_MQTT_BULK`` (default 2,000,000 readings in messages of 500 rows) set the sizes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.sensing.mqtt.broker import Broker, start_broker

from bench.common import VAR, best_and_spread, console, machine, print_machine, repeats, save
from bench.mqtt_load import bulk_packets, observation_packets, publish_all
from cityops.clock import FakeClock
from cityops.runtime import settle_heap
from cityops.sensing import recent
from cityops.sensing.mqtt import IngestHandler, IngestOutcome, MqttConsumer
from cityops.sensing.mqtt_ingest import SensingIngest
from cityops.sensing.mqtt_store import SqliteReadingStore
from cityops.settings import Settings
from cityops.store.engine import make_engine, make_session_factory

DATASTREAMS = 10_000
BULK_ROWS = 500
WINDOW = 20_000  # unacknowledged messages a publisher keeps in flight
CLOCK = FakeClock(datetime(2026, 11, 25, 12, tzinfo=UTC))


def _sizes() -> tuple[int, int]:
    single = int(os.environ.get("BENCH_MQTT_MESSAGES", "400000").replace("_", ""))
    bulk = int(os.environ.get("BENCH_MQTT_BULK", "2000000").replace("_", ""))
    return single, bulk


def _packets(kind: str, first: int, count: int) -> tuple[list[bytes], int]:
    """(chunks, messages) for ``count`` readings."""
    if kind == "single":
        return observation_packets(first, count, DATASTREAMS), count
    packets = bulk_packets(first, count, DATASTREAMS, BULK_ROWS)
    return packets, len(packets)


def _publisher(
    port: int, name: str, kind: str, first: int, count: int, out: Any, go: Any = None
) -> None:
    chunks, messages = _packets(kind, first, count)
    if go is not None:  # built; wait for the start so the clock measures sending only
        out.put("ready")
        go.wait()
    out.put(publish_all(port, name, chunks, messages, WINDOW))


async def _register(url: str, client_id: str) -> None:
    """Create the consumer's persistent session (so the broker queues for it) and leave."""
    consumer = MqttConsumer(url=url, handler=_nothing, clock=CLOCK, client_id=client_id)
    stop = asyncio.Event()
    task = asyncio.ensure_future(consumer.run(stop))
    await consumer.connected.wait()
    stop.set()
    await task


def _nothing(readings: Any) -> Any:
    raise AssertionError("no messages expected while registering")


async def _consume(
    url: str, client_id: str, store: IngestHandler, readings: int
) -> dict[str, float]:
    consumer = MqttConsumer(url=url, handler=store, clock=CLOCK, client_id=client_id)
    stop = asyncio.Event()
    cpu, started = time.process_time(), time.perf_counter()
    task = asyncio.ensure_future(consumer.run(stop))
    while consumer.stats.stored + consumer.stats.duplicates < readings:
        await asyncio.sleep(0.005)
    took = time.perf_counter() - started
    used = time.process_time() - cpu
    stop.set()
    await task
    if consumer.stats.dead_letters or consumer.stats.store_failures:
        raise RuntimeError(f"unexpected: {consumer.stats}")
    return {"seconds": took, "consumer_cpu": used / took}


def fresh_store(name: str = "mqtt_bench.db") -> tuple[SqliteReadingStore, Path]:
    """An empty store on ``var/bench/<name>`` (an earlier run's file and WAL removed)."""
    path = VAR / name
    VAR.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return SqliteReadingStore(path), path


class SensingStore:
    """The real sensing store behind the door (``SensingIngest``: catalogue check, the
    (datastream, time) key, latest values, open buckets), on a fresh file with the pipeline
    benchmark's 100,000 datastreams; no rules are bound."""

    def __init__(self) -> None:
        from bench.bench_pipeline import provision

        path = VAR / "mqtt_sensing.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        provision(url)
        self.engine = make_engine(url)
        self.handler = SensingIngest(
            factory=make_session_factory(self.engine),
            clock=CLOCK,
            settings=Settings(database_url=url),
        )
        settle_heap()  # as a running process does once its catalogue is loaded (start_mqtt)

    def __call__(self, readings: Any) -> IngestOutcome:
        return self.handler(readings)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.exec_driver_sql(f"SELECT count(*) FROM {recent.both('id')}").scalar() or 0
            )

    def close(self) -> None:
        self.engine.dispose()


def measure(
    broker: Broker, kind: str, readings: int, mode: str, store_kind: str = "bench"
) -> dict[str, Any]:
    """One run (``mode`` drain or live) of ``readings`` on ``kind`` (single or bulk), into the
    bench's small store or (``store_kind`` "sensing") the real sensing store."""
    store: SqliteReadingStore | SensingStore = (
        SensingStore() if store_kind == "sensing" else fresh_store()[0]
    )
    client_id = f"bench-intake-{kind}-{mode}-{time.monotonic_ns()}"  # a session of its own
    asyncio.run(_register(broker.url, client_id))
    broker_cpu = broker.cpu_seconds()
    ctx = multiprocessing.get_context("fork")
    results: Any = ctx.Queue()
    if mode == "drain":
        _publisher(broker.port, "bench-pub", kind, 0, readings, results)
        publish_s = results.get()
        broker_cpu = broker.cpu_seconds()
        got = asyncio.run(_consume(broker.url, client_id, store, readings))
    else:
        half = readings // 2
        go = ctx.Event()
        procs = [
            ctx.Process(
                target=_publisher,
                args=(broker.port, f"pub{i}", kind, i * half, half, results, go),
            )
            for i in range(2)
        ]
        for p in procs:
            p.start()
        for _ in procs:
            results.get()  # "ready"
        go.set()
        got = asyncio.run(_consume(broker.url, client_id, store, half * 2))
        publish_s = max(results.get() for _ in procs)
        for p in procs:
            p.join()
        readings = half * 2
    stored = store.count()
    store.close()
    if stored != readings:
        raise RuntimeError(f"stored {stored:,} of {readings:,}")
    return {
        "kind": kind,
        "mode": mode,
        "store": store_kind,
        "readings": readings,
        "seconds": round(got["seconds"], 3),
        "per_second": round(readings / got["seconds"]),
        "consumer_cpu": round(got["consumer_cpu"], 2),
        # Readings per second of CPU the consumer got: what it does on a core of its own.
        "per_consumer_cpu_second": round(
            readings / got["seconds"] / max(got["consumer_cpu"], 0.01)
        ),
        "broker_cpu": round((broker.cpu_seconds() - broker_cpu) / got["seconds"], 2),
        "publisher_per_second": round(readings / publish_s),
    }


def _publisher_alone(broker: Broker, kind: str, readings: int) -> dict[str, Any]:
    """The publisher with no subscriber: its ceiling, so the figures above are the consumer's."""
    chunks, messages = _packets(kind, 10**8, readings)
    took = publish_all(broker.port, "bench-pub-alone", chunks, messages, WINDOW)
    return {"kind": kind, "readings": readings, "per_second": round(readings / took)}


def fresh_broker(folder: str) -> Broker:
    """A throwaway Mosquitto in an empty ``var/bench/<folder>``."""
    workdir = VAR / folder
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    return start_broker(workdir)


def main() -> None:
    single, bulk = _sizes()
    info = machine()
    print_machine(info)
    load = os.getloadavg()
    console.print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores)")
    broker = fresh_broker("mosquitto")
    console.print(f"mosquitto {broker.binary} on port {broker.port}, config:")
    for line in broker.config.splitlines():
        console.print(f"  {line}")
    figures: list[dict[str, Any]] = []
    try:
        alone = [_publisher_alone(broker, "single", min(single, 200_000))]
        alone.append(_publisher_alone(broker, "bulk", min(bulk, 1_000_000)))
        for a in alone:
            console.print(f"publisher alone ({a['kind']}): {a['per_second']:,} readings/s")
        for kind, readings, target in (("single", single, 50_000), ("bulk", bulk, 100_000)):
            for mode in ("drain", "live"):
                runs = [measure(broker, kind, readings, mode) for _ in range(repeats())]
                best, spread = best_and_spread(runs, key=lambda r: r["seconds"])
                best = {**best, "spread": spread, "target": target}
                figures.append(best)
                verdict = "[green]meets[/]" if best["per_second"] >= target else "[red]below[/]"
                console.print(
                    f"{kind:6} {mode:5}: {best['per_second']:>9,} readings/s ({verdict} "
                    f"{target:,}); consumer CPU {best['consumer_cpu']:.0%} "
                    f"({best['per_consumer_cpu_second']:,} per CPU-second), broker CPU "
                    f"{best['broker_cpu']:.0%}, publishers {best['publisher_per_second']:,}/s, "
                    f"spread {spread:.0%}"
                )
        # The same drain through the real sensing store: what a deployment's door does.
        for kind, readings, target in (("single", single, 50_000), ("bulk", bulk, 100_000)):
            runs = [measure(broker, kind, readings, "drain", "sensing") for _ in range(repeats())]
            best, spread = best_and_spread(runs, key=lambda r: r["seconds"])
            figures.append({**best, "spread": spread, "target": target})
            verdict = "[green]meets[/]" if best["per_second"] >= target else "[red]below[/]"
            console.print(
                f"{kind:6} drain, sensing store: {best['per_second']:>9,} readings/s ({verdict} "
                f"{target:,}); consumer CPU {best['consumer_cpu']:.0%} "
                f"({best['per_consumer_cpu_second']:,} per CPU-second), spread {spread:.0%}"
            )
    finally:
        broker.stop()
    path = save(
        "bench_mqtt",
        {
            "broker_config": broker.config.splitlines(),
            "load_average_before": load,
            "publisher_alone": alone,
            "figures": figures,
        },
    )
    console.print(f"saved {path}")


if __name__ == "__main__":
    main()

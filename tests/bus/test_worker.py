"""Observation batches through JetStream: order per datastream, no loss on a crash, back-pressure,
and a worker that stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.msg import Msg
from sqlalchemy import Engine, text

from cityops.bus import consumer
from cityops.bus.consumer import ObservationWorker
from cityops.bus.nats import NatsBus
from cityops.bus.obs import Handler, Reading, dead_subject
from cityops.errors import QueueFull
from cityops.settings import Settings
from cityops.store.engine import make_engine
from tests.bus.handlers import create_tables, make_store_handler
from tests.bus.test_events import wait_for

ROOT = Path(__file__).resolve().parents[2]


class Running:
    """An ObservationWorker on its own thread and event loop, as a worker process would run it."""

    def __init__(self, settings: Settings, handler: Handler, *, index: int, count: int) -> None:
        self.worker = ObservationWorker(settings, handler, index=index, count=count)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main)
        self._thread.start()
        assert self._ready.wait(15), "worker did not start"
        assert self.error is None, self.error

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready = asyncio.Event()
            task = asyncio.create_task(self.worker.run(self._stop, ready))
            await ready.wait()
            self._ready.set()
            await task

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc
            self._ready.set()

    def signal_stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # already stopped and closed
                self._loop.call_soon_threadsafe(self._stop.set)

    def stop(self) -> None:
        self.signal_stop()
        self._thread.join(30)
        assert not self._thread.is_alive()
        assert self.error is None, self.error


def stop_all(workers: list[Running]) -> None:
    for w in workers:
        w.signal_stop()
    for w in workers:
        w.stop()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'bus.db'}")
    create_tables(engine)
    yield engine
    engine.dispose()


def stored(engine: Engine) -> set[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT datastream_id, t FROM bus_reading")).all()
    return {(int(d), str(t)) for d, t in rows}


def deliveries(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT datastream_id, t FROM bus_delivery ORDER BY rowid")).all()
    return [(int(d), str(t)) for d, t in rows]


def readings(datastreams: range, per_stream: int, *, start: int = 0) -> list[Reading]:
    """Each datastream's readings at increasing times, interleaved across datastreams."""
    return [
        (ds, f"2026-11-25T08:{i // 60:02d}:{i % 60:02d}Z", float(i), f"m-{ds}-{i}")
        for i in range(start, start + per_stream)
        for ds in datastreams
    ]


@pytest.mark.parametrize(
    "assignment",
    [pytest.param([(0, 2), (1, 2)], id="split"), pytest.param([(0, 1), (0, 1)], id="same-index")],
)
def test_two_workers_keep_each_datastreams_order_and_lose_nothing(
    bus_settings: Callable[..., Settings], sink: Engine, assignment: list[tuple[int, int]]
) -> None:
    """Split: each worker owns half the partitions. Same index (a mistake, or a rolling restart's
    overlap): both take from every partition, and the server still keeps each one in order."""
    settings = bus_settings(bus_partitions=6, bus_chunk=5, worker_max_readings=40)
    bus = NatsBus(settings)
    workers = [Running(settings, make_store_handler(sink), index=i, count=n) for i, n in assignment]
    try:
        owned = sorted(p for w in workers for p in w.worker.stats.partitions)
        assert owned == sorted(list(range(6)) * (2 // assignment[0][1]))
        sent: list[Reading] = []
        for step in range(12):  # small requests while the workers are already consuming
            batch = readings(range(1, 13), 10, start=step * 10)
            bus.submit(batch)
            sent += batch
        assert wait_for(lambda: len(stored(sink)) == len(sent), timeout=60)
        assert wait_for(lambda: bus.backlog() == 0)
    finally:
        stop_all(workers)
        bus.close()
    assert stored(sink) == {(r[0], str(r[1])) for r in sent}
    by_stream: dict[int, list[str]] = {}
    for ds, t in deliveries(sink):
        by_stream.setdefault(ds, []).append(t)
    for ds, times in by_stream.items():
        assert times == sorted(times), f"datastream {ds} handled out of order"
        assert len(times) == 120
    if assignment[0][1] == 2:
        assert all(w.worker.stats.readings > 0 for w in workers)  # both did real work


class DeadLetters:
    """A plain NATS subscriber on the workers' dead-letter subject, on a thread of its own."""

    def __init__(self, settings: Settings) -> None:
        self.got: list[dict[str, object]] = []
        self._ready, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(settings),))
        self._thread.start()
        assert self._ready.wait(15)

    async def _main(self, settings: Settings) -> None:
        nc = await nats.connect(settings.bus_url)

        async def got(msg: Msg) -> None:
            self.got.append(json.loads(msg.data))

        await nc.subscribe(dead_subject(settings.bus_prefix), cb=got)
        await nc.flush()
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        await nc.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(15)


def test_a_reading_that_always_fails_is_left_out_and_its_partition_moves_on(
    bus_settings: Callable[..., Settings], sink: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One reading trips a bug in the store every time; before, its batch came back for ever
    and its partition stood still. Now it goes to ``<prefix>.dead.obs`` and the rest are
    stored in order."""
    monkeypatch.setattr(consumer, "RETRY_DELAY", 0.05)
    settings = bus_settings(bus_partitions=1, bus_chunk=10)
    store = make_store_handler(sink)
    poison = (7, "2026-11-25T08:00:03Z")

    def trips(batch: list[Reading]) -> None:
        if any((r[0], r[1]) == poison for r in batch):
            raise ValueError("a bug this one reading trips")
        store(batch)

    letters = DeadLetters(settings)
    bus = NatsBus(settings)
    worker = Running(settings, trips, index=0, count=1)
    try:
        sent = readings(range(1, 9), 6)
        bus.submit(sent)
        assert wait_for(lambda: len(stored(sink)) == len(sent) - 1, timeout=60)
        assert wait_for(lambda: bus.backlog() == 0)
        assert wait_for(lambda: len(letters.got) == 1)
    finally:
        worker.stop()
        bus.close()
        letters.close()
    assert poison not in stored(sink)
    (letter,) = letters.got
    assert letter["reason"] == "store_failed"
    assert letter["reading"][:2] == list(poison)  # type: ignore[index]
    assert "this one reading" in str(letter["detail"])
    assert worker.worker.stats.dead_letters == 1
    assert worker.worker.stats.readings == len(sent) - 1
    assert worker.worker.stats.failures >= 3


def test_a_store_that_is_down_leaves_nothing_out(
    bus_settings: Callable[..., Settings], sink: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumer, "RETRY_DELAY", 0.05)
    settings = bus_settings(bus_partitions=1, bus_chunk=10)
    store = make_store_handler(sink)
    down = {"calls": 0}

    def flaky(batch: list[Reading]) -> None:  # every call fails, empty ones too, then all work
        down["calls"] += 1
        if down["calls"] <= 8:
            raise RuntimeError("unable to open database file")
        store(batch)

    bus = NatsBus(settings)
    worker = Running(settings, flaky, index=0, count=1)
    try:
        sent = readings(range(1, 5), 5)
        bus.submit(sent)
        assert wait_for(lambda: len(stored(sink)) == len(sent), timeout=60)
    finally:
        worker.stop()
        bus.close()
    assert worker.worker.stats.dead_letters == 0


def worker_process(settings: Settings, **env: str) -> subprocess.Popen[str]:
    """``cityops worker`` as a real process, with the test handler."""
    full = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CITYOPS_DATABASE_URL": settings.database_url,
        "CITYOPS_BUS_URL": settings.bus_url,
        "CITYOPS_BUS_PREFIX": settings.bus_prefix,
        "CITYOPS_BUS_STREAM": settings.bus_stream,
        "CITYOPS_BUS_PARTITIONS": str(settings.bus_partitions),
        "CITYOPS_BUS_ACK_WAIT": str(settings.bus_ack_wait),
        "CITYOPS_WORKER_HANDLER": "tests.bus.handlers:make_handler",
        **env,
    }
    cityops = Path(sys.executable).with_name("cityops")
    return subprocess.Popen(
        [str(cityops), "worker", "--no-scheduler"],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("crash", ["before_commit", "after_commit"])
def test_a_worker_that_dies_before_acking_loses_nothing(
    bus_settings: Callable[..., Settings], sink: Engine, tmp_path: Path, crash: str
) -> None:
    settings = bus_settings(bus_partitions=2, bus_ack_wait=1.0)
    sent = readings(range(1, 5), 30)
    with_bus = NatsBus(settings)
    try:
        with_bus.submit(sent)
        marker = tmp_path / "crashed"
        first = worker_process(settings, BUS_TEST_CRASH=crash, BUS_TEST_MARKER=str(marker))
        out, _ = first.communicate(timeout=60)
        assert first.returncode == 3, out  # died inside the handler, before acknowledging
        assert marker.exists()
        assert with_bus.backlog() > 0  # nothing it held was acknowledged
        if crash == "before_commit":
            assert len(stored(sink)) < len(sent)
        second = worker_process(settings, BUS_TEST_CRASH=crash, BUS_TEST_MARKER=str(marker))
        try:
            assert wait_for(lambda: len(stored(sink)) == len(sent), timeout=60)
            assert wait_for(lambda: with_bus.backlog() == 0)
        finally:
            second.send_signal(signal.SIGTERM)
            out, _ = second.communicate(timeout=30)
        assert second.returncode == 0, out
    finally:
        with_bus.close()
    assert stored(sink) == {(r[0], str(r[1])) for r in sent}
    handled = deliveries(sink)
    if crash == "after_commit":  # the committed batch came again and was deduplicated
        assert len(handled) > len(sent)
    else:
        assert len(handled) == len(sent)


def test_a_full_stream_refuses_new_batches_and_keeps_the_accepted_ones(
    bus_settings: Callable[..., Settings], sink: Engine
) -> None:
    settings = bus_settings(bus_partitions=1, bus_max_msgs=3, bus_chunk=10)
    bus = NatsBus(settings)
    try:
        accepted = readings(range(1, 2), 30)
        assert bus.submit(accepted) == 3
        with pytest.raises(QueueFull) as refused:
            bus.submit(readings(range(1, 2), 1, start=30))
        assert refused.value.status == 503
        assert refused.value.code == "intake_queue_full"
        assert bus.backlog() == 3
        worker = Running(settings, make_store_handler(sink), index=0, count=1)
        try:
            assert wait_for(lambda: len(stored(sink)) == 30)
            assert wait_for(lambda: bus.backlog() == 0)
            bus.submit(readings(range(1, 2), 1, start=30))  # room again
            assert wait_for(lambda: len(stored(sink)) == 31)
        finally:
            worker.stop()
    finally:
        bus.close()


def test_sigterm_lets_the_worker_finish_its_batch_and_leaves_the_rest_queued(
    bus_settings: Callable[..., Settings], sink: Engine, tmp_path: Path
) -> None:
    settings = bus_settings(bus_partitions=1, bus_chunk=10)
    bus = NatsBus(settings)
    try:
        for step in range(4):
            bus.submit(readings(range(1, 2), 10, start=step * 10))
        started = tmp_path / "started"
        proc = worker_process(settings, BUS_TEST_SLOW="2", BUS_TEST_STARTED=str(started))
        assert wait_for(started.exists, timeout=60)
        proc.send_signal(signal.SIGTERM)  # mid-batch
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "finished: 10 readings in 1 batches" in out
        assert len(stored(sink)) == 10  # the batch in hand was committed and acknowledged
        assert bus.backlog() == 3  # the rest wait for the next worker
        worker = Running(settings, make_store_handler(sink), index=0, count=1)
        try:
            assert wait_for(lambda: len(stored(sink)) == 40)
        finally:
            worker.stop()
    finally:
        bus.close()

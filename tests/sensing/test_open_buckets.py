"""Aggregates stay exact when open buckets live in memory: restarts, late readings, duplicates,
rolled-back transactions and two processes writing the same database."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.sensing import door, service, timeseries
from cityops.settings import Settings
from cityops.store.engine import make_engine, make_session_factory
from tests.sensing.conftest import Network

MINUTE, HOUR = 60_000_000, 3_600_000_000
Reading = tuple[int, datetime, float]


@pytest.fixture
def restart(engine: Engine) -> Iterator[list[Engine]]:
    """Engines on the same database: each starts with no open buckets, as a new process does."""
    made: list[Engine] = []
    yield made
    for e in made:
        e.dispose()


def _reopen(engine: Engine, made: list[Engine]) -> sessionmaker[Session]:
    e = make_engine(engine.url.render_as_string(hide_password=False))
    made.append(e)
    return make_session_factory(e)


def _send(sessions: sessionmaker[Session], clock: FakeClock, part: list[Reading]) -> int:
    result = door.take_in(
        sessions=sessions,
        clock=clock,
        settings=Settings(),
        raws=[[d, t.isoformat(), v] for d, t, v in part],
        source="test",
    )
    assert not result.rejected, result.rejected
    return result.stored


def _assert_exact(
    sessions: sessionmaker[Session], ds_ids: list[int], readings: list[Reading]
) -> None:
    """The 1m and 1h aggregates a reader sees equal a direct computation over ``readings``."""
    with sessions() as s, s.begin():
        timeseries.rollup(session=s)  # PostgreSQL's background rollup; SQLite: catch up only
    start = min(t for _d, t, _v in readings) - timedelta(hours=1)
    end = max(t for _d, t, _v in readings) + timedelta(hours=1)
    for width in (MINUTE, HOUR):
        want: dict[tuple[int, int], list[float]] = {}
        for d, t, v in readings:
            us = int(t.timestamp()) * 1_000_000 + t.microsecond
            want.setdefault((d, us - us % width), []).append(v)
        with sessions() as s:
            got = timeseries.buckets(
                session=s, datastream_ids=ds_ids, width=width, start=start, end=end
            )
        assert set(got) == set(want)
        for key, values in want.items():
            count, total, low, high = got[key]
            assert (count, low, high) == (len(values), min(values), max(values)), key
            assert total == pytest.approx(sum(values))


def _readings(ds_ids: list[int], t0: datetime, minutes: int, seed: int) -> list[Reading]:
    rng = random.Random(seed)
    return [
        (d, t0 + timedelta(seconds=s), round(rng.uniform(0, 50), 2))
        for s in range(0, minutes * 60, 15)
        for d in ds_ids
    ]


def test_open_buckets_survive_a_restart_and_late_readings_merge(
    engine: Engine, restart: list[Engine], clock: FakeClock, network: Network
) -> None:
    ds_ids = network.ds_ids
    t0 = clock.now().replace(minute=50, second=0, microsecond=0) - timedelta(hours=2)
    first = _readings(ds_ids, t0, 6, seed=1)  # six minutes: four close, two stay open
    sessions = _reopen(engine, restart)
    assert _send(sessions, clock, first) == len(first)
    _assert_exact(sessions, ds_ids, first)

    # A new process: the open minutes come back from the raw rows, and go on filling.
    sessions = _reopen(engine, restart)
    second = [(d, t + timedelta(seconds=5), v) for d, t, v in first[-4 * len(ds_ids) :]]
    second += _readings(ds_ids, t0 + timedelta(minutes=6), 14, seed=2)  # over the hour
    late = [(ds_ids[0], t0 + timedelta(seconds=1), 99.0)]  # its minute was written already
    assert _send(sessions, clock, second + late) == len(second) + 1
    _assert_exact(sessions, ds_ids, first + second + late)

    sessions = _reopen(engine, restart)
    third = _readings(ds_ids, t0 + timedelta(minutes=20), 3, seed=3)
    assert _send(sessions, clock, third) == len(third)
    _assert_exact(sessions, ds_ids, first + second + late + third)


def test_a_batch_over_many_minutes_folds_each_reading_into_its_own_minute(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    """The door folds what it has just stored from memory once its buckets are loaded: a
    batch's rows come table by table in time order, so the minute changes inside a batch,
    forwards and back."""
    ds_ids = network.ds_ids
    t0 = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=30)
    warm = _readings(ds_ids, t0, 1, seed=51)  # loads the open buckets on this engine
    assert _send(session_factory, clock, warm) == len(warm)
    spread = _readings(ds_ids, t0 + timedelta(minutes=1), 7, seed=52)
    random.Random(53).shuffle(spread)
    assert _send(session_factory, clock, spread) == len(spread)
    _assert_exact(session_factory, ds_ids, warm + spread)


def test_a_repeated_batch_is_neither_stored_nor_counted_twice(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    t0 = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=30)
    batch = _readings(network.ds_ids, t0, 3, seed=4)
    assert _send(session_factory, clock, batch) == len(batch)
    assert _send(session_factory, clock, batch) == 0  # the same (datastream, time) again
    inside = [(d, t, v) for d, t, v in batch[:5]]
    assert _send(session_factory, clock, inside + inside) == 0
    _assert_exact(session_factory, network.ds_ids, batch)


def test_a_rolled_back_batch_leaves_no_trace_in_the_aggregates(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    t0 = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=30)
    kept = _readings(network.ds_ids, t0, 2, seed=5)
    assert _send(session_factory, clock, kept) == len(kept)
    lost = _readings(network.ds_ids, t0 + timedelta(minutes=2), 3, seed=6)
    with pytest.raises(RuntimeError), session_factory() as s, s.begin():
        service.ingest(session=s, readings=[[d, t.isoformat(), v] for d, t, v in lost], clock=clock)
        timeseries.rollup(session=s)  # folded (and a minute flushed) in this transaction...
        raise RuntimeError("the transaction fails after the fold")
    again = _readings(network.ds_ids, t0 + timedelta(minutes=2), 3, seed=7)  # the same ids
    assert _send(session_factory, clock, again) == len(again)
    _assert_exact(session_factory, network.ds_ids, kept + again)


def test_two_processes_writing_one_database_count_each_reading_once(
    engine: Engine, restart: list[Engine], clock: FakeClock, network: Network
) -> None:
    a, b = _reopen(engine, restart), _reopen(engine, restart)
    t0 = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=40)
    sent: list[Reading] = []
    for k in range(8):  # alternating batches, each a minute and a half further on
        part = _readings(network.ds_ids, t0 + timedelta(seconds=90 * k), 2, seed=10 + k)
        part = [r for r in part if r[1] < t0 + timedelta(seconds=90 * (k + 1))]
        assert _send(a if k % 2 else b, clock, part) == len(part)
        sent += part
    _assert_exact(a, network.ds_ids, sent)
    _assert_exact(b, network.ds_ids, sent)


def test_a_deleted_datastream_leaves_no_aggregates_behind(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    from cityops.sensing import entities
    from cityops.sensing.models import Datastream

    gone, kept = network.ds_ids[0], network.ds_ids[1:]
    t0 = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=30)
    sent = _readings(network.ds_ids, t0, 3, seed=20)
    assert _send(session_factory, clock, sent) == len(sent)
    with session_factory() as s, s.begin():
        entities.delete_(session=s, model=Datastream, id=gone)
    later = _readings(kept, t0 + timedelta(minutes=3), 5, seed=21)  # closes the open minutes
    assert _send(session_factory, clock, later) == len(later)
    _assert_exact(session_factory, kept, [r for r in sent if r[0] != gone] + later)
    with session_factory() as s:
        assert not timeseries.buckets(
            session=s, datastream_ids=[gone], width=MINUTE, start=t0, end=clock.now()
        )


def test_a_reading_dated_tomorrow_does_not_close_the_current_minutes(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    from sqlalchemy import func, select

    from cityops.sensing.models import ObsAgg1m

    t0 = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    now_ish = _readings(network.ds_ids, t0, 2, seed=30)
    ahead = [(network.ds_ids[0], clock.now() + timedelta(hours=20), 7.0)]  # allowed: < 1 day
    assert _send(session_factory, clock, now_ish + ahead) == len(now_ish) + 1
    with session_factory() as s:
        pg = timeseries.is_pg(s)
        written = s.scalar(select(func.count()).select_from(ObsAgg1m).where(ObsAgg1m.bucket >= t0))
    if not pg:  # the open minutes stay in memory; PostgreSQL's rollup writes them anyway
        assert written == 0
    _assert_exact(session_factory, network.ds_ids, now_ish + ahead)


def test_a_rolled_back_fold_that_closed_nothing_is_forgotten_too(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    t0 = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=30)
    kept = _readings(network.ds_ids, t0, 2, seed=40)  # up to t0 + 1:45; two minutes open
    assert _send(session_factory, clock, kept) == len(kept)
    tail = t0 + timedelta(minutes=1, seconds=50)  # the same open minute: nothing closes
    lost = [(d, tail, 1000.0) for d in network.ds_ids]
    with pytest.raises(RuntimeError), session_factory() as s, s.begin():
        service.ingest(session=s, readings=[[d, t.isoformat(), v] for d, t, v in lost], clock=clock)
        timeseries.rollup(session=s)  # folded into memory, then the transaction fails
        raise RuntimeError("the transaction fails after the fold")
    again = [(d, tail + timedelta(seconds=k), -1.0 - k) for k in range(3) for d in network.ds_ids]
    assert _send(session_factory, clock, again) == len(again)  # the rolled-back ids again
    closing = _readings(network.ds_ids, t0 + timedelta(minutes=5), 1, seed=41)  # writes them
    assert _send(session_factory, clock, closing) == len(closing)
    _assert_exact(session_factory, network.ds_ids, kept + again + closing)


def test_closing_more_buckets_than_one_statement_takes_writes_them_all(
    engine: Engine, restart: list[Engine], clock: FakeClock, network: Network
) -> None:
    """Three datastreams over 12 hours, a reading a minute: 2,160 minutes close in one flush,
    written in several statements (``store.values``: 1,024 rows at most, then powers of two)."""
    ds_ids = network.ds_ids
    t0 = clock.now().replace(second=0, microsecond=0) - timedelta(hours=13)
    rng = random.Random(5)
    readings = [
        (d, t0 + timedelta(minutes=m), round(rng.uniform(0, 50), 2))
        for m in range(12 * 60)
        for d in ds_ids
    ]
    sessions = _reopen(engine, restart)
    assert _send(sessions, clock, readings) == len(readings)
    _assert_exact(sessions, ds_ids, readings)

"""Recent readings and their compaction (SQLite): nothing lost, nothing stored twice, ids kept,
every reader sees every table, and a step moves one recent table in its own transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from cityops.api.context import AppContext
from cityops.bus.memory import MemoryBus
from cityops.clock import FakeClock
from cityops.sensing import catalogue, door, entities, recent, service, timeseries
from cityops.sensing.models import Datastream, Observation, to_micros
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.sensing.scheduler import run_compaction
from cityops.settings import Settings
from cityops.store.base import Base
from cityops.store.engine import make_engine, make_session_factory, raw_cursor
from cityops.store.schema import upgrade
from tests.sensing.conftest import Network, build_network

SETTINGS = Settings(sensing_recent_rows=10, sensing_recent_seconds=60)  # a step per reading


@pytest.fixture
def lite(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'recent.db'}")
    Base.metadata.create_all(engine)
    return engine


@pytest.fixture
def sessions(lite: Engine) -> sessionmaker[Session]:
    return make_session_factory(lite)


@pytest.fixture
def net(sessions: sessionmaker[Session], clock: FakeClock) -> Network:
    """Six datastreams a block apart (ids 1, 1001, … 5001): each in a recent table of its own."""
    with sessions.begin() as s:
        built = build_network(s, clock, n=6)
        s.execute(text("UPDATE sta_datastream SET id = (id - 1) * 1000 + 1 WHERE id <= 6"))
        catalogue.bump_catalogue(session=s)
    return Network(built.thing_ids, [i * 1000 + 1 for i in range(6)], built.truth_id)


@pytest.fixture
def ctx(lite: Engine, sessions: sessionmaker[Session], clock: FakeClock) -> AppContext:
    return AppContext(
        settings=SETTINGS, engine=lite, sessions=sessions, bus=MemoryBus(), clock=clock
    )


def _at(clock: FakeClock, minutes: float) -> datetime:
    return clock.now() - timedelta(minutes=minutes)


def _ingest(sessions: sessionmaker[Session], clock: FakeClock, rows: list[Any]) -> Any:
    with sessions.begin() as s:
        return service.ingest(session=s, readings=rows, clock=clock, settings=SETTINGS)


def _all(sessions: sessionmaker[Session]) -> list[tuple[int, int, datetime, float | None]]:
    with sessions() as s:
        got = s.execute(
            select(Stored.id, Stored.datastream_id, Stored.phenomenon_time, Stored.result)
        )
        return sorted((i, d, t, r) for i, d, t, r in got)


def _counts(sessions: sessionmaker[Session]) -> list[int]:
    """Rows in observation, then in each recent table."""
    with sessions() as s:
        return [
            int(s.scalar(text(f"SELECT count(*) FROM {t}")) or 0)
            for t in ("observation", *recent.TABLES)
        ]


def _step(sessions: sessionmaker[Session], clock: FakeClock) -> int:
    with sessions.begin() as s:
        return recent.compact_step(session=s, settings=SETTINGS, now=clock.now())


def _drain(ctx: AppContext, clock: FakeClock) -> int:
    """The upkeep, a minute after its first sight of the readings: every table moved."""
    run_compaction(ctx)
    clock.advance(timedelta(seconds=61))
    return run_compaction(ctx)


def _spread(net: Network, clock: FakeClock, minutes: float) -> list[list[Any]]:
    """A reading on each of the six datastreams, ``minutes`` ago."""
    return [[ds, _at(clock, minutes).isoformat(), float(i)] for i, ds in enumerate(net.ds_ids)]


def test_readings_land_in_their_blocks_table_and_a_step_moves_one_table_keeping_ids(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    _ingest(sessions, clock, _spread(net, clock, 3) + _spread(net, clock, 2))
    before = _all(sessions)
    assert len(before) == 12 and _counts(sessions) == [0, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0]
    assert _step(sessions, clock) == 2  # the first table, datastream 1's block
    assert _counts(sessions) == [2, 0, 2, 2, 2, 2, 2, 0, 0, 0, 0]
    assert _step(sessions, clock) == 0  # not due again until more readings come
    _ingest(sessions, clock, [[net.ds_ids[0], _at(clock, 1).isoformat(), 9.0]])
    assert _step(sessions, clock) == 2  # the next table in turn
    assert _counts(sessions) == [4, 1, 0, 2, 2, 2, 2, 0, 0, 0, 0]
    assert _all(sessions)[:12] == before  # the same ids, keys and values wherever they are


def test_the_upkeep_moves_every_table_once_readings_have_waited(
    ctx: AppContext, sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    _ingest(sessions, clock, _spread(net, clock, 3))
    assert run_compaction(ctx) == 0  # first sight: they wait a minute from now
    clock.advance(timedelta(seconds=61))
    assert run_compaction(ctx) == 6 and _counts(sessions) == [6] + [0] * 10
    _ingest(sessions, clock, _spread(net, clock, 2)[:2])
    clock.advance(timedelta(seconds=30))
    assert run_compaction(ctx) == 0  # a minute since the last move, at least
    clock.advance(timedelta(seconds=31))
    assert run_compaction(ctx) == 2 and _counts(sessions)[0] == 8
    assert run_compaction(ctx) == 0


def test_a_repeat_of_a_moved_reading_is_a_duplicate_and_an_old_new_one_is_stored(
    ctx: AppContext, sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    moved_at = _at(clock, 5)
    _ingest(sessions, clock, _spread(net, clock, 5))
    assert _drain(ctx, clock) == 6
    ds = net.ds_ids[0]
    again = _ingest(sessions, clock, [[ds, moved_at.isoformat(), 99.0]])
    assert (again.stored, again.duplicates) == (0, 1)
    older = _ingest(sessions, clock, [[ds, _at(clock, 30).isoformat(), 7.0]])  # before the mark
    later = _ingest(sessions, clock, [[ds, _at(clock, 1).isoformat(), 8.0]])
    assert (older.stored, later.stored) == (1, 1)
    rows = timeseries.observations(
        session=sessions(), datastream_id=ds, start=_at(clock, 60), end=clock.now()
    )
    assert [r["result"] for r in rows] == [7.0, 0.0, 8.0]  # from every table, in time order


def test_editing_and_deleting_a_recent_reading_move_it_first(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    ds = net.ds_ids[1]
    _ingest(sessions, clock, [[ds, _at(clock, 4).isoformat(), 1.0]])
    _ingest(sessions, clock, [[ds, _at(clock, 3).isoformat(), 2.0]])
    first, second = (i for i, *_ in _all(sessions))
    later = clock.now() + timedelta(minutes=10)
    with sessions.begin() as s:
        row = entities.update_(
            session=s, model=Observation, id=first, values={"phenomenon_time": later}
        )
        assert row.phenomenon_time == later
        entities.delete_(session=s, model=Observation, id=second)
    assert _counts(sessions) == [1] + [0] * 10
    repeat = _ingest(sessions, clock, [[ds, later.isoformat(), 5.0]])  # its new time is taken
    assert (repeat.stored, repeat.duplicates) == (0, 1)
    with sessions() as s:
        assert entities.get(session=s, model=Observation, id=first).result == 1.0


def test_a_single_observation_created_directly_takes_the_shared_sequence(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    ds = net.ds_ids[2]
    _ingest(sessions, clock, [[ds, _at(clock, 4).isoformat(), 1.0]])
    when = _at(clock, 2)
    with sessions.begin() as s:
        made = entities.create(
            session=s,
            model=Observation,
            values={"datastream_id": ds, "phenomenon_time": when, "result": 3.0},
        )
    repeat = _ingest(sessions, clock, [[ds, when.isoformat(), 9.0]])
    _ingest(sessions, clock, [[ds, _at(clock, 1).isoformat(), 4.0]])
    ids = [i for i, *_ in _all(sessions)]
    assert repeat.duplicates == 1
    assert len(set(ids)) == 3 and ids[1] == made.id and ids == sorted(ids)


def test_deleting_a_datastream_or_purging_old_days_reaches_every_table(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    gone = net.ds_ids[0]
    _ingest(sessions, clock, _spread(net, clock, 3))
    _step(sessions, clock)  # the first table moved
    _ingest(sessions, clock, [[gone, _at(clock, 1).isoformat(), 1.0]])
    assert _counts(sessions)[:2] == [1, 1]  # datastream 1 in both observation and its table
    with sessions.begin() as s:
        entities.delete_(session=s, model=Datastream, id=gone)
    assert gone not in {d for _i, d, *_ in _all(sessions)}
    clock.advance(timedelta(days=40))
    with sessions.begin() as s:
        purged = timeseries.purge(session=s, now=clock.now(), settings=SETTINGS)
    assert purged.raw == 5 and sum(_counts(sessions)) == 0


def test_the_door_takes_a_step_after_its_batch_when_one_is_due(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    raws = _spread(net, clock, 3)
    settings = Settings(sensing_recent_rows=40)  # a step every 4 readings
    door.take_in(sessions=sessions, clock=clock, settings=settings, raws=raws[:3], source="t")
    assert _counts(sessions)[0] == 0  # three readings: no step yet
    door.take_in(sessions=sessions, clock=clock, settings=settings, raws=raws[3:], source="t")
    assert _counts(sessions)[:2] == [1, 0]  # the first table moved
    assert sum(_counts(sessions)) == 6


def test_an_older_database_keeps_its_ids_and_its_keys(tmp_path: Path, clock: FakeClock) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    sessions = make_session_factory(engine)
    with sessions.begin() as s:
        ds = build_network(s, clock, n=1).ds_ids[0]
        for i, minutes in enumerate((9, 8)):  # readings stored before the recent tables
            s.add(Observation(id=100 + i, datastream_id=ds, phenomenon_time=_at(clock, minutes)))
    upgrade(engine)
    repeat = _ingest(sessions, clock, [[ds, _at(clock, 8).isoformat(), 1.0]])
    fresh = _ingest(sessions, clock, [[ds, _at(clock, 7).isoformat(), 2.0]])
    assert (repeat.stored, fresh.stored) == (0, 1)
    assert [i for i, *_ in _all(sessions)] == [100, 101, 103]  # 102 went to the repeat
    with sessions.begin() as s:
        assert recent.compact_step(session=s, settings=SETTINGS, now=clock.now()) == 1
        assert recent.guard(raw_cursor(s))[0] >= to_micros(_at(clock, 7))  # datastream 1: table 0
    engine.dispose()


def test_a_failed_step_does_not_fail_the_stored_batch(
    sessions: sessionmaker[Session],
    clock: FakeClock,
    net: Network,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(**_kw: object) -> int:
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(recent, "compact_step", broken)
    raws = _spread(net, clock, 3)
    got = door.take_in(sessions=sessions, clock=clock, settings=SETTINGS, raws=raws, source="t")
    assert got.stored == 6 and sum(_counts(sessions)) == 6  # stored, and answered for
    assert "left to the upkeep" in caplog.text


def test_a_batch_longer_than_a_statement_is_stored_whole_with_ids_in_time_order(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    """3,000 readings of one datastream go in several statements (``store.values``); a few
    stored before are duplicates, the rest take ids in time order, one after another."""
    ds = net.ds_ids[0]
    times = [_at(clock, 55) + timedelta(seconds=s) for s in range(3000)]
    _ingest(sessions, clock, [[ds, times[i].isoformat(), 1.0] for i in (10, 2000)])
    got = _ingest(sessions, clock, [[ds, t.isoformat(), float(i)] for i, t in enumerate(times)])
    assert (got.stored, got.duplicates) == (2998, 2)
    rows = [row for row in _all(sessions) if row[0] > 2]
    assert [t for _i, _d, t, _r in rows] == [t for i, t in enumerate(times) if i not in (10, 2000)]
    assert [r for _i, _d, _t, r in rows] == [float(i) for i in range(3000) if i not in (10, 2000)]
    ids = [i for i, _d, _t, _r in rows]
    assert ids == sorted(ids) and ids[-1] - ids[0] == 2999  # two gaps where the repeats were


def test_the_door_stores_a_batch_of_several_slices_reading_for_reading(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    """The door validates 1,000 readings at a time and hands the insert the slices' columns
    joined (``Checked.numbers``): each reading keeps its own datastream, time and value."""
    start = _at(clock, 50)
    raws = [
        [net.ds_ids[i % 6], (start + timedelta(seconds=i // 6)).isoformat(), i / 4]
        for i in range(2 * door.REACT_SLICE + 500)
    ]
    got = door.take_in(sessions=sessions, clock=clock, settings=SETTINGS, raws=raws, source="t")
    assert got.stored == len(raws) and not got.rejected
    stored = sorted((d, t, r) for _i, d, t, r in _all(sessions))
    want = sorted((d, datetime.fromisoformat(t), r) for d, t, r in raws)
    assert stored == want

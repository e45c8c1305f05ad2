"""Recent readings and their compaction (SQLite): nothing lost, nothing stored twice, ids kept,
every reader sees both tables, and a round is many short transactions."""

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
from cityops.sensing import door, entities, recent, service, timeseries
from cityops.sensing.models import Datastream, Observation
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.sensing.scheduler import run_compaction
from cityops.settings import Settings
from cityops.store.base import Base
from cityops.store.engine import make_engine, make_session_factory
from cityops.store.schema import upgrade
from tests.sensing.conftest import Network, build_network

SETTINGS = Settings(sensing_recent_rows=6, sensing_recent_steps=3, sensing_recent_seconds=60)


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
    with sessions.begin() as s:
        return build_network(s, clock, n=6)


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


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """(rows in observation, rows in observation_recent)."""
    with sessions() as s:
        keyed = s.scalar(text("SELECT count(*) FROM observation"))
        fresh = s.scalar(text("SELECT count(*) FROM observation_recent"))
    return int(keyed or 0), int(fresh or 0)


def _step(sessions: sessionmaker[Session], clock: FakeClock, idle: bool = False) -> int:
    with sessions.begin() as s:
        return recent.compact_step(session=s, settings=SETTINGS, now=clock.now(), idle=idle)


def _spread(net: Network, clock: FakeClock, minutes: float) -> list[list[Any]]:
    """A reading on each of the six datastreams, ``minutes`` ago."""
    return [[ds, _at(clock, minutes).isoformat(), float(i)] for i, ds in enumerate(net.ds_ids)]


def test_readings_land_in_the_recent_table_and_a_round_moves_them_all_keeping_ids(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    _ingest(sessions, clock, _spread(net, clock, 3) + _spread(net, clock, 2))
    before = _all(sessions)
    assert len(before) == 12 and _counts(sessions) == (0, 12)
    steps = [_step(sessions, clock) for _ in range(3)]
    assert sum(steps) == 12 and all(0 < n < 12 for n in steps)  # one range of datastreams each
    assert _counts(sessions) == (12, 0)
    assert _all(sessions) == before  # the same ids, keys and values, now in the keyed table
    assert _step(sessions, clock) == 0  # nothing due until six more arrive


def test_readings_stored_during_a_round_wait_for_the_next(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    _ingest(sessions, clock, _spread(net, clock, 3))
    assert _step(sessions, clock) > 0  # the round opened at the sixth id
    _ingest(sessions, clock, _spread(net, clock, 1))
    assert _step(sessions, clock) + _step(sessions, clock) > 0  # the round's other two ranges
    assert _counts(sessions) == (6, 6)
    with sessions() as s:
        newest = s.scalars(text("SELECT min(id) FROM observation_recent")).one()
        oldest_moved = s.scalars(text("SELECT max(id) FROM observation")).one()
    assert newest > oldest_moved


def test_a_repeat_of_a_moved_reading_is_a_duplicate_and_an_old_new_one_is_stored(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    _ingest(sessions, clock, _spread(net, clock, 5))
    while _step(sessions, clock):
        pass
    ds = net.ds_ids[0]
    again = _ingest(sessions, clock, [[ds, _at(clock, 5).isoformat(), 99.0]])
    assert (again.stored, again.duplicates) == (0, 1)
    older = _ingest(sessions, clock, [[ds, _at(clock, 30).isoformat(), 7.0]])  # before the mark
    later = _ingest(sessions, clock, [[ds, _at(clock, 1).isoformat(), 8.0]])
    assert (older.stored, later.stored) == (1, 1)
    rows = timeseries.observations(
        session=sessions(), datastream_id=ds, start=_at(clock, 60), end=clock.now()
    )
    assert [r["result"] for r in rows] == [7.0, 0.0, 8.0]  # both tables, in time order


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
    assert _counts(sessions) == (1, 0)
    repeat = _ingest(sessions, clock, [[ds, later.isoformat(), 5.0]])  # its new time is taken
    assert (repeat.stored, repeat.duplicates) == (0, 1)
    with sessions() as s:
        assert entities.get(session=s, model=Observation, id=first).result == 1.0


def test_a_single_observation_created_directly_takes_the_shared_sequence(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    ds = net.ds_ids[2]
    _ingest(sessions, clock, [[ds, _at(clock, 4).isoformat(), 1.0]])
    with sessions.begin() as s:
        made = entities.create(
            session=s,
            model=Observation,
            values={"datastream_id": ds, "phenomenon_time": _at(clock, 2), "result": 3.0},
        )
    _ingest(sessions, clock, [[ds, _at(clock, 1).isoformat(), 4.0]])
    ids = [i for i, *_ in _all(sessions)]
    assert len(set(ids)) == 3 and ids[1] == made.id and ids == sorted(ids)


def test_deleting_a_datastream_or_purging_old_days_reaches_both_tables(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    gone = net.ds_ids[0]
    _ingest(sessions, clock, _spread(net, clock, 3))
    _step(sessions, clock)  # a round opened: the first range moved
    _ingest(sessions, clock, [[gone, _at(clock, 1).isoformat(), 1.0]])
    keyed, fresh = _counts(sessions)
    assert keyed > 0 and fresh > 0
    with sessions.begin() as s:
        entities.delete_(session=s, model=Datastream, id=gone)
    assert gone not in {d for _i, d, *_ in _all(sessions)}
    clock.advance(timedelta(days=40))
    with sessions.begin() as s:
        purged = timeseries.purge(session=s, now=clock.now(), settings=SETTINGS)
    assert purged.raw == 5 and _counts(sessions) == (0, 0)


def test_the_door_takes_a_step_after_its_batch_when_one_is_due(
    sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    raws = _spread(net, clock, 3)
    door.take_in(sessions=sessions, clock=clock, settings=SETTINGS, raws=raws[:3], source="t")
    assert _counts(sessions) == (0, 3)  # three of six: no round yet
    door.take_in(sessions=sessions, clock=clock, settings=SETTINGS, raws=raws[3:], source="t")
    keyed, fresh = _counts(sessions)
    assert keyed > 0 and keyed + fresh == 6


def test_the_upkeep_moves_readings_left_waiting(
    lite: Engine, sessions: sessionmaker[Session], clock: FakeClock, net: Network
) -> None:
    ctx = AppContext(
        settings=SETTINGS, engine=lite, sessions=sessions, bus=MemoryBus(), clock=clock
    )
    _ingest(sessions, clock, _spread(net, clock, 3)[:2])  # fewer than a round's worth
    assert run_compaction(ctx) == 2  # no round ever: they go at once
    _ingest(sessions, clock, _spread(net, clock, 2)[:2])
    clock.advance(timedelta(seconds=30))
    assert run_compaction(ctx) == 0  # a round a minute at most
    clock.advance(timedelta(seconds=31))
    assert run_compaction(ctx) == 2 and _counts(sessions) == (4, 0)
    assert run_compaction(ctx) == 0


def test_an_older_database_keeps_its_ids_and_its_keys(tmp_path: Path, clock: FakeClock) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    sessions = make_session_factory(engine)
    with sessions.begin() as s:
        net = build_network(s, clock, n=1)
        ds = net.ds_ids[0]
        for i, minutes in enumerate((9, 8)):  # readings stored before the recent table existed
            s.add(Observation(id=100 + i, datastream_id=ds, phenomenon_time=_at(clock, minutes)))
    upgrade(engine)
    repeat = _ingest(sessions, clock, [[ds, _at(clock, 8).isoformat(), 1.0]])
    fresh = _ingest(sessions, clock, [[ds, _at(clock, 7).isoformat(), 2.0]])
    assert (repeat.stored, fresh.stored) == (0, 1)
    assert [i for i, *_ in _all(sessions)] == [100, 101, 102]
    settings = Settings(sensing_recent_rows=1, sensing_recent_steps=1)
    with sessions.begin() as s:
        assert recent.compact_step(session=s, settings=settings, now=clock.now()) == 1
        mark = recent.guard(s.connection().connection.driver_connection.cursor())  # type: ignore[union-attr]
    assert mark >= timeseries.to_micros(_at(clock, 7))
    engine.dispose()

"""Upkeep through the app context: events published after commit, rollup and purge passes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from cityops.api.context import AppContext, unit_of_work
from cityops.bus.memory import Event, MemoryBus
from cityops.clock import FakeClock
from cityops.sensing import service, timeseries
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.sensing.scheduler import SensingUpkeep
from cityops.settings import Settings
from cityops.store.engine import make_session_factory
from tests.sensing.conftest import Network


def test_batch_event_after_commit_and_upkeep_pass(
    engine: Engine, clock: FakeClock, network: Network
) -> None:
    ctx = AppContext(
        settings=Settings(sensing_raw_days=9, sensing_max_past_days=7),
        engine=engine,
        sessions=make_session_factory(engine),
        bus=MemoryBus(),
        clock=clock,
    )
    seen: list[Event] = []
    ctx.bus.subscribe("observations.*", seen.append)
    ds = network.ds_ids[0]
    old = clock.now() - timedelta(days=6)
    batch = [[ds, old.isoformat(), 1.0], [ds, clock.now().isoformat(), 3.0]]
    with unit_of_work(ctx) as s:
        service.ingest(session=s, readings=batch, clock=clock)
        assert seen == []  # not before the commit
    assert len(seen) == 1 and seen[0].data["count"] == 2

    upkeep = SensingUpkeep(ctx)
    assert upkeep.step() == 2
    assert upkeep.step() == 0
    with ctx.sessions() as s:  # closed hours from the table, the open one from the raw rows
        hours = timeseries.buckets(
            session=s,
            datastream_ids=[ds],
            width=3_600_000_000,
            start=old - timedelta(hours=1),
            end=clock.now() + timedelta(hours=1),
        )
        assert sorted(v[0] for v in hours.values()) == [1, 1]
    clock.advance(timedelta(hours=2))
    assert upkeep.step() == 0  # the purge is due again, but nothing is old enough
    clock.advance(timedelta(days=4))  # the old reading is now 10 days old: past raw_days=9
    upkeep.step()
    with ctx.sessions() as s:
        assert s.scalars(select(Stored.result)).all() == [3.0]


def test_upkeep_makes_tomorrows_partition(engine: Engine, clock: FakeClock) -> None:
    from sqlalchemy import text

    from cityops.sensing import timeseries
    from cityops.sensing.scheduler import run_partitions

    ctx = AppContext(
        settings=Settings(),
        engine=engine,
        sessions=make_session_factory(engine),
        bus=MemoryBus(),
        clock=clock,
    )
    run_partitions(ctx)
    if engine.dialect.name != "postgresql":
        return  # SQLite keeps one table
    tomorrow = timeseries.partition_name(clock.now().date() + timedelta(days=1))
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT to_regclass(:n)"), {"n": tomorrow}) is not None

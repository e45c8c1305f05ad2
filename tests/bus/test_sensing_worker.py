"""Sensing on NATS: the door validates and queues, a worker stores and runs the rules.

The real pieces: a JetStream stream on a real nats-server, the sensing store on both databases,
the shipped septic plans bound through the sensing directory, the fan command recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, select

from cityops.api.context import AppContext
from cityops.bus.nats import NatsBus
from cityops.clock import FakeClock
from cityops.sensing import scaleout
from cityops.sensing.models import ActuatorCommand
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.settings import Settings
from cityops.store.engine import make_session_factory
from tests import citykit
from tests.bus.test_events import wait_for
from tests.bus.test_worker import Running
from tests.tanks import tank_with_fan


def test_queued_readings_are_stored_once_and_start_the_fan(
    engine: Engine, clock: FakeClock, bus_settings: Callable[..., Settings]
) -> None:
    sessions = make_session_factory(engine)
    with sessions.begin() as s:
        citykit.build(s)
        ds, fan = tank_with_fan(s)
    settings = bus_settings(bus_partitions=2, database_url=str(engine.url))
    bus = NatsBus(settings)
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions, bus=bus, clock=clock)
    try:
        assert scaleout.queues_work(ctx.bus)
        handle = scaleout.handler(ctx)
        worker = Running(settings, handle, index=0, count=1)
        try:
            t0 = clock.now()
            batch = [
                [ds, t0.isoformat(), 8.0],
                [ds, (t0 + timedelta(minutes=1)).isoformat(), 31.0],  # over 25 %LEL
                [ds, (t0 + timedelta(minutes=1)).isoformat(), 31.0],  # the same reading again
                [999_999, t0.isoformat(), 1.0],  # unknown datastream: refused at the door
            ]
            clock.advance(timedelta(minutes=2))
            with sessions() as s:
                result = scaleout.enqueue(
                    session=s, readings=batch, clock=clock, settings=settings, queue=bus
                )
            assert result.accepted == 3 and [r.reason for r in result.rejected] == [
                "unknown_datastream"
            ]

            def commands() -> list[tuple[int, str]]:
                with sessions() as s:
                    rows = s.execute(select(ActuatorCommand.thing_id, ActuatorCommand.command))
                    return [(t, c) for t, c in rows]

            assert wait_for(lambda: commands() == [(fan, "on")], timeout=30)
            assert wait_for(lambda: bus.backlog() == 0)
        finally:
            worker.stop()
            handle.close()
        with sessions() as s:
            values = s.execute(select(Stored.result).where(Stored.datastream_id == ds)).scalars()
            assert sorted(values) == [8.0, 31.0]  # stored once each
    finally:
        bus.close()

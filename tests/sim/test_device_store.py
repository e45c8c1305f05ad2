"""Device simulator on both databases: provisioning, the in-process sink, fan commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.api.context import AppContext, unit_of_work
from cityops.bus.memory import Event, MemoryBus
from cityops.clock import FakeClock
from cityops.registry.models import Component
from cityops.sensing import service
from cityops.sensing.models import (
    ActuatorCommand,
    CommandStatus,
    Datastream,
    Thing,
    ThingLocation,
)
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.settings import Settings
from cityops.sim.device_provision import load_devices, provision
from cityops.sim.device_run import DeviceRunner, _bus_commands
from cityops.sim.device_sinks import InProcessSink
from cityops.sim.devices import DeviceSimulator, SimConfig
from cityops.store.engine import make_session_factory, transaction

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
QUIET = SimConfig(incident_rates={}, flat_rate=0, spike_rate=0, offline_rate=0, loss_fraction=0)

# (category, district, how many): septic tanks, manholes, a footbridge in 江北区, a bridge, poles,
# guardrails (slopes), an outfall
SITES = [
    ("01901", "500107", 3),
    ("01002", "500107", 4),
    ("02006", "500107", 1),
    ("02006", "500105", 1),
    ("02901", "500107", 1),
    ("01077", "500107", 3),
    ("02017", "500107", 2),
    ("01073", "500107", 1),
]


def add_components(session: Session) -> None:
    for category, district, n in SITES:
        for i in range(1, n + 1):
            session.add(
                Component(
                    ident=f"{district}{category}{i:06d}",
                    name=f"{category}-{district}-{i}",
                    category_code=category,
                    district_code=district,
                    grid_code=None,
                    lat=29.5 + i * 0.001,
                    lng=106.5 + i * 0.001,
                )
            )
    session.flush()


def counts(session: Session) -> tuple[int, int, int]:
    things = session.scalar(select(func.count()).select_from(Thing)) or 0
    streams = session.scalar(select(func.count()).select_from(Datastream)) or 0
    links = session.scalar(select(func.count()).select_from(ThingLocation)) or 0
    return things, streams, links


def test_provisioning_places_devices_on_components_and_is_idempotent(
    session_factory: sessionmaker[Session],
) -> None:
    clock = FakeClock(NOW)
    with transaction(session_factory) as session:
        add_components(session)
        first = provision(session=session, count=12, clock=clock, seed=3)
    with transaction(session_factory) as session:
        once = counts(session)
        second = provision(session=session, count=12, clock=clock, seed=3)
        assert counts(session) == once
    assert first.created_things > 10 and first.created_datastreams > 30
    assert second.created_things == 0 and second.created_datastreams == 0
    assert [d.key for d in first.devices] == [d.key for d in second.devices]
    with session_factory() as session:
        devices = load_devices(session=session)
        kinds = {d.kind for d in devices}
        assert {"gas_detector", "exhaust_fan", "manhole_cover", "crowd_counter"} <= kinds
        detectors = [d for d in devices if d.kind == "gas_detector"]
        fans = {d.site for d in devices if d.kind == "exhaust_fan"}
        assert {d.site for d in detectors} <= fans  # a fan in every tank with a detector
        crowd = next(d for d in devices if "guanyinqiao" in d.tags)
        assert crowd.site.startswith("500105")  # 观音桥 is in 江北区
        for d in devices:
            thing = session.get(Thing, d.thing_id)
            assert thing is not None and thing.component_id is not None
            comp = session.get(Component, thing.component_id)
            assert comp is not None and comp.ident == d.site
            if d.kind == "exhaust_fan":
                assert thing.is_actuator and thing.command_topic
        ds = session.get(Datastream, detectors[0].datastreams["ch4"])
        assert ds is not None and ds.unit_of_measurement["symbol"] == "%LEL"
        assert ds.lat is not None


def test_in_process_sink_stores_the_readings_and_publishes_a_batch_event(
    session_factory: sessionmaker[Session],
) -> None:
    clock = FakeClock(NOW)
    with transaction(session_factory) as session:
        add_components(session)
        devices = provision(session=session, count=12, clock=clock).devices
    bus = MemoryBus()
    seen: list[Event] = []
    bus.subscribe(service.SUBJECT_BATCH, seen.append)
    sink = InProcessSink(
        sessions=session_factory, clock=clock, bus=bus, settings=Settings(), batch_size=500
    )
    sim = DeviceSimulator(devices, start=NOW - timedelta(hours=1), seed=1, config=QUIET)
    readings = sim.advance(NOW)
    stored = sink.publish(readings)
    assert stored == len(readings) > 500
    assert sink.publish(readings) == 0  # a replay is deduplicated
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Stored)) == len(readings)
        ch4 = next(d for d in devices if d.kind == "gas_detector").datastreams["ch4"]
        latest = session.get(Datastream, ch4)
        assert latest is not None and latest.latest_phenomenon_time == NOW
    assert sum(e.data["count"] for e in seen) == len(readings)
    assert sink.stats.batches >= 2


def test_a_fan_command_from_the_bus_switches_the_fan_and_is_acked(engine: Engine) -> None:
    clock = FakeClock(NOW)
    sessions = make_session_factory(engine)
    ctx = AppContext(Settings(), engine, sessions, MemoryBus(), clock)
    with unit_of_work(ctx) as session:
        add_components(session)
        devices = provision(session=session, count=12, clock=clock).devices
    sim = DeviceSimulator(devices, start=NOW - timedelta(hours=2), seed=2, config=QUIET)
    sink = InProcessSink(sessions=sessions, clock=clock, bus=ctx.bus)
    runner = DeviceRunner(sim, sink, clock, speed=10_000.0, max_lead=timedelta(0))
    unsubscribe = _bus_commands(ctx, runner)
    detector = next(d for d in devices if d.kind == "gas_detector")
    fan = next(d for d in devices if d.kind == "exhaust_fan" and d.site == detector.site)
    sim.trigger("gas_buildup", detector.key, extra={"fan_residual": 0.0})  # the fan clears it
    clock.advance(timedelta(seconds=1))
    runner.step()  # fast: plays the two hours up to now (never past it), the tank fills
    with sessions() as session:
        ch4 = session.get(Datastream, detector.datastreams["ch4"])
        assert ch4 is not None and (ch4.latest_result or 0) > 25  # over level 1
    with unit_of_work(ctx) as session:
        assert fan.thing_id is not None
        cmd = service.record_command(
            session=session,
            thing_id=fan.thing_id,
            command="on",
            payload=None,
            issued_by="plan:gas",
            clock=clock,
        )
        cmd_id = cmd.id
    clock.advance(timedelta(minutes=30))
    runner.step()
    unsubscribe()
    with sessions() as session:
        row = session.get(ActuatorCommand, cmd_id)
        assert row is not None and row.status == CommandStatus.acked
        ch4 = session.get(Datastream, detector.datastreams["ch4"])
        assert ch4 is not None and (ch4.latest_result or 100) < 10
        on = session.get(Datastream, fan.datastreams["fan_on"])
        assert on is not None and on.latest_result == 1.0

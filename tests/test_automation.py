"""The running loop: sensing intake → bus → rules engine → fan command, alarm and case.

Real parts end to end: devices created through the sensing entities on a 部件 of a small city,
readings stored by the intake, the feed thread evaluating them, commands recorded by the sensing
layer, the case filed and dispatched by the case engine, on both databases.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from cityops.api.context import AppContext, unit_of_work
from cityops.automation import Automation, start_automation
from cityops.bus.memory import Event, MemoryBus
from cityops.cases.models import Case, CaseStatus, Channel
from cityops.clock import FakeClock
from cityops.registry.models import Department
from cityops.rules.evaluate import Reading as RuleReading
from cityops.rules.models import Alarm
from cityops.sensing import door, service
from cityops.sensing.models import ActuatorCommand
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.settings import Settings
from cityops.store.engine import make_session_factory
from tests import citykit
from tests.tanks import tank_with_fan


def _context(engine: Engine, clock: FakeClock) -> AppContext:
    """The small city on ``engine``, in a context as a running process has it."""
    sessions = make_session_factory(engine)
    with sessions.begin() as s:
        citykit.build(s)
    return AppContext(
        settings=Settings(secret_key="test-secret-key-0123456789abcdef"),
        engine=engine,
        sessions=sessions,
        bus=MemoryBus(),
        clock=clock,
    )


@pytest.fixture
def loop(engine: Engine, clock: FakeClock) -> Iterator[tuple[AppContext, Automation, int, int]]:
    ctx = _context(engine, clock)
    with ctx.sessions.begin() as s:
        ds_id, fan_id = tank_with_fan(s)
    auto = start_automation(ctx, tick_seconds=0.05)
    yield ctx, auto, ds_id, fan_id
    auto.stop()


def _send(ctx: AppContext, ds: int, value: float) -> None:
    with unit_of_work(ctx) as s:
        result = service.ingest(
            session=s,
            readings=[[ds, ctx.clock.now().isoformat(), value]],
            clock=ctx.clock,
            settings=ctx.settings,
        )
        assert result.stored == 1, result


def test_gas_reading_starts_the_fan_and_an_hour_later_files_a_case(
    loop: tuple[AppContext, Automation, int, int], clock: FakeClock
) -> None:
    ctx, auto, ds, fan = loop
    assert ds in auto.engine.index  # the shipped septic plans bound to the new datastream
    _send(ctx, ds, 6.0)
    clock.advance(timedelta(minutes=1))
    _send(ctx, ds, 31.0)  # over GB/T 50493 level 1 (25 %LEL)
    assert auto.feed.drain()
    with ctx.sessions() as s:
        commands = s.execute(select(ActuatorCommand)).scalars().all()
        assert [(c.thing_id, c.command) for c in commands] == [(fan, "on")]
        (alarm,) = s.execute(select(Alarm).where(Alarm.plan_id == "septic-ch4")).scalars()
        assert (alarm.state, alarm.severity) == ("active", "orange")
        assert s.execute(select(Case)).first() is None  # no case yet: the fan gets its hour

    clock.advance(timedelta(minutes=61))
    _send(ctx, ds, 29.0)  # still over after the hour
    assert auto.feed.drain()
    deadline = clock.now()
    until = time.monotonic() + 60
    case = None
    while case is None and time.monotonic() < until:  # the feed's timer tick fires the recheck
        with ctx.sessions() as s:
            case = s.execute(select(Case).where(Case.category_code == "01901")).scalar()
        if case is None:
            time.sleep(0.05)
    assert case is not None, "the recheck did not file a case"
    assert case.channel is Channel.sensor and case.status is CaseStatus.dispatched
    assert case.district_code == "500107" and case.worker_id is not None
    # 预案 septic-gas: the district centre files it and dispatches it to the street (镇街).
    assert case.handling_level == "street"
    with ctx.sessions() as s:
        dept = s.get(Department, case.department_id)
        assert dept is not None and dept.jurisdiction_code == "500107001"
        severities = set(s.execute(select(Alarm.severity)).scalars())
    assert "red" in severities and clock.now() == deadline


def test_a_broken_batch_does_not_stop_the_feed(
    loop: tuple[AppContext, Automation, int, int],
) -> None:
    ctx, auto, ds, fan = loop
    bad = {"datastream_id": [ds], "time": ["not a time"], "result": [31.0]}
    ctx.bus.publish(Event("observations.batch", bad))
    assert auto.feed.drain()
    assert auto.feed.failures == 1
    _send(ctx, ds, 31.0)  # the next good batch is still evaluated
    assert auto.feed.drain()
    with ctx.sessions() as s:
        assert s.execute(select(ActuatorCommand.thing_id)).scalars().all() == [fan]


def _take_in(ctx: AppContext, ds: int, value: float) -> service.IngestResult:
    return door.take_in(
        sessions=ctx.sessions,
        clock=ctx.clock,
        settings=ctx.settings,
        raws=[[ds, ctx.clock.now().isoformat(), value]],
        source="test",
        bus=ctx.bus,
        reactor=door.reactor_in(ctx.extras),
    )


def test_the_door_starts_the_fan_before_the_reading_is_stored(
    loop: tuple[AppContext, Automation, int, int],
) -> None:
    ctx, auto, ds, fan = loop
    stored_when_commanded: list[int] = []
    batches: list[dict[str, object]] = []

    def on_command(event: Event) -> None:  # published as the reaction commits
        with ctx.sessions() as s:
            stored_when_commanded.append(
                len(s.execute(select(Stored.id).where(Stored.datastream_id == ds)).all())
            )

    ctx.bus.subscribe(service.SUBJECT_COMMAND, on_command)
    ctx.bus.subscribe(service.SUBJECT_BATCH, lambda e: batches.append(e.data))
    alarms: list[dict[str, object]] = []
    ctx.bus.subscribe("alarms.raised", lambda e: alarms.append(e.data))
    assert _take_in(ctx, ds, 31.0).stored == 1
    # The alarm event names its place, so the stream shows it to that area's staff.
    with ctx.sessions() as s:
        place = s.execute(select(Alarm.jurisdiction_code)).scalars().one()
    assert place and [a.get("jurisdiction_code") for a in alarms] == [place], alarms
    assert stored_when_commanded == [0]  # the command went out first, the reading after
    assert batches[0]["evaluated"] is True  # so the feed passes the batch by
    assert auto.feed.drain()
    with ctx.sessions() as s:
        assert s.execute(select(ActuatorCommand.thing_id)).scalars().all() == [fan]
        assert s.execute(select(Stored.result)).scalars().all() == [31.0]


def test_a_resent_batch_is_stored_once_and_fires_once(
    loop: tuple[AppContext, Automation, int, int], clock: FakeClock
) -> None:
    ctx, auto, ds, _fan = loop
    raws = [[ds, clock.now().isoformat(), 31.0]]
    first = door.take_in(
        sessions=ctx.sessions, clock=clock, settings=ctx.settings, raws=raws, source="t",
        bus=ctx.bus, reactor=door.reactor_in(ctx.extras),
    )  # fmt: skip
    clock.advance(timedelta(minutes=1))
    _take_in(ctx, ds, 5.0)  # the gas clears
    again = door.take_in(
        sessions=ctx.sessions, clock=clock, settings=ctx.settings, raws=raws, source="t",
        bus=ctx.bus, reactor=door.reactor_in(ctx.extras),
    )  # the sender did not hear back and sends the first batch again  # fmt: skip
    assert (first.stored, again.stored, again.duplicates) == (1, 0, 1)
    assert auto.feed.drain()
    with ctx.sessions() as s:
        commands = s.execute(select(ActuatorCommand.command).order_by(ActuatorCommand.id))
        assert commands.scalars().all() == ["on", "off"]  # the clear stops it; no second start
        alarms = s.execute(select(Alarm.state).where(Alarm.plan_id == "septic-ch4")).scalars()
        assert list(alarms) == ["cleared"]  # not raised again by the old reading


def test_readings_are_stored_even_when_the_rules_fail_and_the_feed_evaluates_them(
    loop: tuple[AppContext, Automation, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, auto, ds, fan = loop
    engine = auto.engine
    assert engine is not None
    real = engine.process
    calls: list[int] = []

    def broken_once(readings: list[RuleReading]) -> object:
        calls.append(len(readings))
        if len(calls) == 1:
            raise RuntimeError("rules store unreachable")
        return real(readings)

    monkeypatch.setattr(engine, "process", broken_once)
    assert _take_in(ctx, ds, 31.0).stored == 1  # accepted and stored all the same
    assert auto.feed.drain()
    with ctx.sessions() as s:
        assert s.execute(select(ActuatorCommand.thing_id)).scalars().all() == [fan]
    assert calls == [1, 1]  # the door's try failed; the feed evaluated the stored batch


def test_stopping_the_automation_takes_the_engine_off_the_doors(
    loop: tuple[AppContext, Automation, int, int],
) -> None:
    ctx, auto, ds, _fan = loop
    assert door.reactor_in(ctx.extras) is auto.engine
    auto.stop()
    assert door.reactor_in(ctx.extras) is None
    assert _take_in(ctx, ds, 31.0).stored == 1


def test_a_tank_fitted_while_running_is_watched_without_a_restart(
    engine: Engine, clock: FakeClock
) -> None:
    ctx = _context(engine, clock)
    sessions = ctx.sessions
    auto = start_automation(ctx, tick_seconds=0.02)
    assert auto.feed is not None and auto.engine is not None
    auto.feed.watch_seconds = 0.02
    try:
        assert auto.engine.instances == {}  # no device yet
        with sessions.begin() as s:
            ds, fan = tank_with_fan(s, "50010701901000042")
        until = time.monotonic() + 30
        while ds not in auto.engine.index and time.monotonic() < until:
            time.sleep(0.02)
        assert ds in auto.engine.index, "the new tank's CH4 stream was not bound"
        _take_in(ctx, ds, 31.0)
        with sessions() as s:
            assert s.execute(select(ActuatorCommand.thing_id)).scalars().all() == [fan]
    finally:
        auto.stop()


def test_an_edited_plan_file_takes_effect_without_a_restart(
    engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    plans = tmp_path / "plans.yaml"
    plan = (
        "plans:\n  - id: tank-gas\n    name: 化粪池甲烷\n"
        "    sources: [{selector: {observed_property: CH4}}]\n"
        "    trigger: {type: above, value: %s, clear: 20}\n"
        "    actions: [{type: actuate, target: fan, command: 'on'}]\n"
    )
    plans.write_text(plan % 50, encoding="utf-8")
    ctx = _context(engine, clock)
    ctx.settings = Settings(secret_key="test-secret-key-0123456789abcdef", rules_plans_path=plans)
    with ctx.sessions.begin() as s:
        ds, fan = tank_with_fan(s)
    auto = start_automation(ctx, tick_seconds=0.02)
    assert auto.feed is not None and auto.engine is not None
    auto.feed.watch_seconds = 0.02
    try:
        _take_in(ctx, ds, 31.0)  # under 50: nothing
        plans.write_text(plan % 30 + "  - {id: typo, name: x}\n", encoding="utf-8")
        until = time.monotonic() + 30
        while auto.engine.plan("tank-gas").trigger.value != 30 and time.monotonic() < until:  # type: ignore[union-attr]
            time.sleep(0.02)
        assert [d.name for d in auto.engine.disabled] == ["typo"]  # reported, the rest runs
        clock.advance(timedelta(minutes=1))
        _take_in(ctx, ds, 32.0)  # over the edited 30
        with ctx.sessions() as s:
            assert s.execute(select(ActuatorCommand.thing_id)).scalars().all() == [fan]
    finally:
        auto.stop()

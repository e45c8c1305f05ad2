"""Play the device simulator against a clock, into a sink, reacting to actuator commands.

Simulated time runs ``speed`` times as fast as the clock from ``start``, but never more than
``max_lead`` ahead of the clock (the intake refuses readings from the future): a fast run
catches up, then goes on in real time. Start in the past (``backfill``) to replay history fast.

Commands reach the simulator from the in-process bus (``actuators.command`` events, acked through
``sensing.service.ack_command``) or from MQTT (``MqttSink`` acks them on the ack topic). A command
``on``/``start``/``fan_on`` (or ``{"on": true}``) switches a fan on; ``off``/``stop``/``fan_off``
(or ``{"on": false}``) switches it off.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from cityops.api.context import AppContext, unit_of_work
from cityops.bus.memory import Event
from cityops.clock import Clock
from cityops.sensing import service
from cityops.sim.device_provision import provision
from cityops.sim.device_sinks import CommandHandler, InProcessSink, MqttSink, Respond, Sink
from cityops.sim.devices import DeviceSimulator, Readings, SimConfig

log = logging.getLogger(__name__)

ON = frozenset({"on", "start", "fan_on", "open"})
OFF = frozenset({"off", "stop", "fan_off", "close"})


def wanted_state(command: str, payload: dict[str, Any] | None) -> bool | None:
    """What a command asks of a fan: on (True), off (False), or not understood (None)."""
    if isinstance(payload, dict) and isinstance(payload.get("on"), bool):
        return bool(payload["on"])
    name = command.strip().lower()
    return True if name in ON else False if name in OFF else None


@dataclass
class Command:
    thing_id: int
    command: str
    payload: dict[str, Any] | None
    command_id: int | str | None = None
    reply: Callable[[bool, str], None] | None = None


@dataclass
class RunStats:
    readings: int = 0
    steps: int = 0
    commands: int = 0
    errors: list[str] = field(default_factory=list)


class Playable(Protocol):
    """What a runner plays: the device simulator, or another (``sim.river_feed``)."""

    def current_time(self) -> datetime: ...

    def advance(self, until: datetime) -> Readings: ...

    def set_actuator(self, device_key: str, on: bool) -> bool: ...


S = TypeVar("S", bound=Playable)


class DeviceRunner(Generic[S]):
    """Steps the simulator to the clock's (scaled) time and hands readings to the sink."""

    def __init__(
        self,
        sim: S,
        sink: Sink,
        clock: Clock,
        *,
        speed: float = 1.0,
        max_lead: timedelta = timedelta(minutes=50),
        thing_keys: dict[int, str] | None = None,
    ) -> None:
        self.sim, self.sink, self.clock, self.speed = sim, sink, clock, speed
        self.max_lead = max_lead
        self.origin_clock = clock.now()
        self.origin_sim = sim.current_time()
        if thing_keys is None and isinstance(sim, DeviceSimulator):
            thing_keys = {d.thing_id: d.key for d in sim.devices if d.thing_id is not None}
        self.thing_keys = thing_keys or {}
        self.commands: deque[Command] = deque()
        self.stats = RunStats()

    def submit(self, command: Command) -> None:
        """Queue a command (any thread); applied before the next step."""
        self.commands.append(command)

    def target(self) -> datetime:
        """Where simulated time should be now."""
        now = self.clock.now()
        scaled = self.origin_sim + (now - self.origin_clock) * self.speed
        return min(scaled, now + self.max_lead)

    def _apply_commands(self) -> None:
        while self.commands:
            c = self.commands.popleft()
            key = self.thing_keys.get(c.thing_id)
            state = wanted_state(c.command, c.payload)
            ok = key is not None and state is not None and self.sim.set_actuator(key, state)
            self.stats.commands += 1
            if c.reply is not None:
                detail = f"fan {'on' if state else 'off'}" if ok else "not understood"
                c.reply(ok, detail)

    def step(self) -> int:
        """Apply queued commands, advance to ``target()``, publish; the number of readings."""
        self._apply_commands()
        readings = self.sim.advance(self.target())
        if len(readings):
            self.sink.publish(readings)
        self.stats.readings += len(readings)
        self.stats.steps += 1
        return len(readings)

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Step every ``interval`` wall seconds until ``stop``; errors are logged, not fatal."""
        while not stop.is_set():
            try:
                self.step()
            except Exception as exc:  # a failing sink must not end the simulation
                log.warning("device simulation step failed: %s", exc)
                self.stats.errors.append(str(exc)[:200])
            stop.wait(interval)


@dataclass
class DeviceSimulation(Generic[S]):
    """A running simulation: stop it with ``stop()``."""

    runner: DeviceRunner[S]
    thread: threading.Thread
    stop_event: threading.Event
    unsubscribe: Callable[[], None] | None = None

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
        if self.unsubscribe is not None:
            self.unsubscribe()
        self.runner.sink.close()


def play(
    runner: DeviceRunner[S],
    *,
    interval: float = 1.0,
    name: str = "device-sim",
    unsubscribe: Callable[[], None] | None = None,
) -> DeviceSimulation[S]:
    """Step ``runner`` every ``interval`` seconds in a daemon thread until ``.stop()``."""
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop, interval), daemon=True, name=name)
    thread.start()
    return DeviceSimulation(runner, thread, stop, unsubscribe)


def context_sink(
    ctx: AppContext, mqtt_url: str | None = None, on_command: CommandHandler | None = None
) -> Sink:
    """Readings into this process's door (``InProcessSink``), or to ``mqtt_url``."""
    if mqtt_url:
        return MqttSink(mqtt_url, on_command=on_command)
    return InProcessSink(
        sessions=ctx.sessions,
        clock=ctx.clock,
        bus=ctx.bus,
        settings=ctx.settings,
        extras=ctx.extras,
    )


def _bus_commands(ctx: AppContext, runner: DeviceRunner[Any]) -> Callable[[], None]:
    """Take actuator commands from the bus; ack each through the sensing service."""

    def on_command(event: Event) -> None:
        data = event.data
        command_id = data.get("id")

        def reply(ok: bool, detail: str) -> None:
            if not isinstance(command_id, int):
                return
            with unit_of_work(ctx) as session:
                service.ack_command(
                    session=session,
                    command_id=command_id,
                    ok=ok,
                    payload={"detail": detail},
                    clock=ctx.clock,
                )

        runner.submit(
            Command(
                int(data.get("thing_id", -1)),
                str(data.get("command", "")),
                data.get("payload"),
                command_id,
                reply,
            )
        )

    return ctx.bus.subscribe(service.SUBJECT_COMMAND, on_command)


def start_device_simulation(
    ctx: AppContext,
    *,
    count: int = 2000,
    speed: float = 1.0,
    seed: int = 7,
    mqtt_url: str | None = None,
    config: SimConfig | None = None,
    backfill: timedelta = timedelta(0),
    interval: float = 1.0,
    district: str | None = None,
) -> DeviceSimulation[DeviceSimulator]:
    """Provision ``count`` devices (idempotent) and play them in a daemon thread.

    Readings go to the ingest service in this process, or to ``mqtt_url`` (then an MQTT intake
    must be running to store them). ``district`` (a code prefix) limits the 部件 used. Fans
    start off on every start (their state is not kept). Actuator commands are taken from the
    bus (in process) or from the broker (MQTT). Call ``.stop()`` on the result to end it.
    """
    with unit_of_work(ctx) as session:
        fleet = provision(
            session=session, count=count, clock=ctx.clock, seed=seed, district=district
        ).devices
    sim = DeviceSimulator(fleet, start=ctx.clock.now() - backfill, seed=seed, config=config)
    holder: list[DeviceRunner[DeviceSimulator]] = []

    def mqtt_command(thing_id: int, command: dict[str, Any], respond: Respond) -> None:
        def reply(ok: bool, detail: str) -> None:
            status = "done" if ok else "failed"
            respond({"id": command.get("id"), "status": status, "detail": detail})

        params = command.get("parameters")
        holder[0].submit(
            Command(
                thing_id,
                str(command.get("command", "")),
                params if isinstance(params, dict) else None,
                command.get("id"),
                reply,
            )
        )

    sink = context_sink(ctx, mqtt_url, mqtt_command)
    lead = timedelta(seconds=min(ctx.settings.sensing_max_future_seconds, 3600) * 0.8)
    runner = DeviceRunner(sim, sink, ctx.clock, speed=speed, max_lead=lead)
    holder.append(runner)
    unsubscribe = None if mqtt_url else _bus_commands(ctx, runner)
    return play(runner, interval=interval, unsubscribe=unsubscribe)

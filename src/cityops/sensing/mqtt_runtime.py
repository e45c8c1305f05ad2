"""The MQTT door in a running process: intake, commands out, acks in, state changes out.

:func:`start_mqtt` is what ``cityops serve`` and ``cityops demo`` call. With
``CITYOPS_MQTT_URL`` unset it does nothing. Otherwise one thread runs its own asyncio loop with
two broker connections:

- the :class:`~cityops.sensing.mqtt.MqttConsumer` (persistent session, QoS 1) storing readings
  through :class:`~cityops.sensing.mqtt_ingest.SensingIngest`, whose ``observations.batch``
  events go on ``ctx.bus`` after commit (so the rules engine sees MQTT readings), and recording
  device acknowledgements through :class:`~cityops.sensing.mqtt_ingest.SensingCommands`;
- an outbound connection that publishes every ``actuators.command`` bus event (queued by
  :func:`cityops.sensing.service.record_command`, published after its commit) on the thing's
  command topic at QoS 1, and forwards state changes (``alarms.*``, ``cases.*``,
  ``actuators.*``) to ``cityops/v1/events/...``.

A command waits in memory while the broker is unreachable and goes out, in order, once it is
back; the row stays ``sent`` until the device acknowledges. On start, the commands of the last
``CITYOPS_MQTT_COMMAND_RESEND_MINUTES`` still ``sent`` go out again first: one that waited in a
process that stopped is not lost (delivery is at least once; a device acts once per command id).
State changes are notifications and are dropped while the broker is away (the database and the
ledger hold the truth).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cityops.api.context import AppContext
from cityops.bus.memory import Event
from cityops.clock import Clock
from cityops.runtime import settle_heap
from cityops.sensing.mqtt import IngestHandler, MqttConsumer
from cityops.sensing.mqtt_client import BrokerAddress, MqttClient, MqttError
from cityops.sensing.mqtt_commands import (
    STATE_SUBJECTS,
    Command,
    CommandRecorder,
    EventForwarder,
    send_command,
)
from cityops.sensing.mqtt_ingest import SensingCommands, SensingIngest
from cityops.sensing.mqtt_payload import Limits
from cityops.sensing.service import SUBJECT_COMMAND, unacknowledged_commands
from cityops.settings import Settings
from cityops.store.engine import reading

log = logging.getLogger(__name__)

MAX_WAITING_COMMANDS = 10_000  # beyond this a command is logged and left ``sent``
PUBLISH_TIMEOUT = 10.0  # seconds for the broker's PUBACK before the connection is re-made


@dataclass
class OutboxStats:
    commands_sent: int = 0
    commands_dropped: int = 0
    connects: int = 0


class MqttRuntime:
    """The running door; :meth:`stop` takes it down (a no-op when MQTT is not configured)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.enabled = bool(ctx.settings.mqtt_url)
        self.consumer: MqttConsumer | None = None
        self.forwarder: EventForwarder | None = None
        self.stats = OutboxStats()
        self.outbox_connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._waiting: deque[Command] = deque()
        self._detach: list[Callable[[], None]] = []
        self._stopping = asyncio.Event()  # bound to the MQTT thread's loop on first use
        self._have_commands = asyncio.Event()

    # -- from the caller's thread -------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> MqttRuntime:
        if not self.enabled or self._thread is not None:
            return self
        ctx = self.ctx
        BrokerAddress.parse(ctx.settings.mqtt_url or "")  # a bad URL fails here, not in the thread
        self.consumer = consumer_from_settings(
            ctx.settings,
            handler=SensingIngest(
                factory=ctx.sessions,
                clock=ctx.clock,
                settings=ctx.settings,
                bus=ctx.bus,
                extras=ctx.extras,
            ),
            clock=ctx.clock,
            commands=SensingCommands(factory=ctx.sessions, clock=ctx.clock, bus=ctx.bus),
        )
        self._resend_unacknowledged()
        self._thread = threading.Thread(target=self._main, name="mqtt", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the MQTT thread did not start")
        return self

    def _resend_unacknowledged(self) -> None:
        """Queue again what no device acknowledged lately: it may never have left this process."""
        minutes = self.ctx.settings.mqtt_command_resend_minutes
        if minutes <= 0:
            return
        now = self.ctx.clock.now()
        with reading(self.ctx.sessions) as session:
            pending = unacknowledged_commands(
                session=session, since=now - timedelta(minutes=minutes)
            )
        for data in pending:
            self._waiting.append(Command.from_event(data, now=now))
        if pending:
            log.info("publishing again %d unacknowledged commands", len(pending))

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking readings (what is stored is acknowledged), send waiting commands, close."""
        for undo in self._detach:
            undo()
        self._detach.clear()
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has ended already
            loop.call_soon_threadsafe(self._stopping.set)
        thread.join(timeout)
        self._thread = None

    def wait_connected(self, timeout: float = 15.0) -> bool:
        """Block until both connections are up (True), or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            consumer = self.consumer
            if consumer and consumer.connected.is_set() and self.outbox_connected.is_set():
                return True
            time.sleep(0.01)
        return False

    # -- the MQTT thread --------------------------------------------------------------------------
    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        assert self.consumer is not None
        loop = self._loop = asyncio.get_running_loop()
        self.forwarder = EventForwarder(None, loop)
        self._detach = [
            self.forwarder.attach(self.ctx.bus, STATE_SUBJECTS),
            self.ctx.bus.subscribe(SUBJECT_COMMAND, self._on_command),
        ]
        consumer_stop, outbox_stop = asyncio.Event(), asyncio.Event()
        intake = asyncio.ensure_future(self.consumer.run(consumer_stop))
        outbox = asyncio.ensure_future(self._outbox(outbox_stop))
        self._ready.set()
        await self._stopping.wait()
        consumer_stop.set()  # first the intake: its last batches may still raise commands
        await intake
        outbox_stop.set()
        await outbox

    def _on_command(self, event: Event) -> None:
        """Bus listener (any thread): hand the recorded command to the loop."""
        try:
            command = Command.from_event(event.data, now=self.ctx.clock.now())
        except (KeyError, TypeError, ValueError):
            log.exception("an actuators.command event without a usable command: %r", event.data)
            return
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._enqueue, command)

    def _enqueue(self, command: Command) -> None:
        if len(self._waiting) >= MAX_WAITING_COMMANDS:
            self.stats.commands_dropped += 1
            log.error(
                "command %d not published: %d commands waiting", command.id, len(self._waiting)
            )
            return
        self._waiting.append(command)
        self._have_commands.set()

    async def _outbox(self, stop: asyncio.Event) -> None:
        """Keep an outbound connection; publish waiting commands; reconnect with back-off."""
        url = self.ctx.settings.mqtt_url
        assert url and self.forwarder is not None
        delay = 0.1
        while True:
            try:
                client = await MqttClient.open(
                    url, client_id=f"{self.ctx.settings.mqtt_client_id}-out", clean_session=True
                )
            except MqttError as exc:
                if stop.is_set():
                    if self._waiting:
                        log.error("%d commands not published: no broker", len(self._waiting))
                    return
                log.warning("MQTT outbox: %s; reconnecting in %.1f s", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            self.stats.connects += 1
            self.forwarder.client = client
            self.outbox_connected.set()
            try:
                done = await self._send_waiting(client, stop)
            finally:
                self.outbox_connected.clear()
                self.forwarder.client = None
                if client.is_open:
                    await client.disconnect()
            if done:
                return

    async def _send_waiting(self, client: MqttClient, stop: asyncio.Event) -> bool:
        """Publish commands in order until ``stop`` (True) or the connection fails (False)."""
        while True:
            while self._waiting:
                command = self._waiting[0]
                try:
                    await asyncio.wait_for(send_command(client, command), PUBLISH_TIMEOUT)
                except (MqttError, TimeoutError) as exc:
                    log.warning("command %d not yet published: %s", command.id, exc)
                    return False
                self._waiting.popleft()
                self.stats.commands_sent += 1
            if stop.is_set():
                return True
            self._have_commands.clear()
            waits: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(self._have_commands.wait()),
                asyncio.ensure_future(stop.wait()),
            ]
            await asyncio.wait([*waits, client.closed], return_when="FIRST_COMPLETED")
            for w in waits:
                w.cancel()
            if not client.is_open:
                return False


def start_mqtt(ctx: AppContext) -> MqttRuntime:
    """Start the MQTT door when ``CITYOPS_MQTT_URL`` is set; call ``.stop()`` on the way out.

    The heap is settled first (``runtime.settle_heap``) even when no rules run here: with the
    collector's default thresholds a bulk drain spent more than half its CPU collecting
    (2,000,000 bulk readings into the real store: 67,500/s, settled 116,100/s)."""
    runtime = MqttRuntime(ctx)
    if runtime.enabled:
        settle_heap()
    return runtime.start()


def consumer_from_settings(
    settings: Settings,
    *,
    handler: IngestHandler,
    clock: Clock,
    commands: CommandRecorder | None = None,
) -> MqttConsumer:
    """The consumer as configured by ``CITYOPS_MQTT_*`` (``CITYOPS_MQTT_URL`` is required)."""
    if not settings.mqtt_url:
        raise ValueError("CITYOPS_MQTT_URL is not set")
    limits = Limits(
        max_payload_bytes=settings.mqtt_max_payload_bytes,
        max_rows=settings.mqtt_max_bulk_rows,
        max_lead=timedelta(seconds=settings.sensing_max_future_seconds),
        max_age=timedelta(days=settings.sensing_max_past_days),
    )
    return MqttConsumer(
        url=settings.mqtt_url,
        handler=handler,
        clock=clock,
        client_id=settings.mqtt_client_id,
        share_group=settings.mqtt_share_group,
        limits=limits,
        batch_size=settings.mqtt_batch_size,
        max_pending_bytes=settings.mqtt_max_pending_bytes,
        commands=commands,
    )

"""The MQTT door: observations in at QoS 1, stored before they are acknowledged; bad ones to
a dead-letter topic; command acknowledgements recorded.

Design (docs/architecture.md, "MQTT intake"): one lean connection
(:class:`~cityops.sensing.mqtt_client.MqttClient`) with a persistent session. Every socket read
is split into packets at once; PUBLISHes queue up until ``batch_size`` or ``linger`` seconds;
a worker thread decodes the batch (one JSON call for all payloads), hands the readings to the
injected ``handler`` (the store) and only when it has returned are the batch's PUBACKs written,
in one go. A crash anywhere before that leaves the messages unacknowledged, so the broker
delivers them again and the store's dedupe (datastream, phenomenonTime / message id) keeps one
copy. The consumer never dies: bad payloads become dead letters, a failing store is retried
with back-off, a lost broker is reconnected.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cityops.clock import Clock
from cityops.sensing import mqtt_payload as payloads
from cityops.sensing.mqtt_batch import Batch, Done, one_per_message
from cityops.sensing.mqtt_client import MqttClient, MqttError
from cityops.sensing.mqtt_commands import ACK_FILTER, BadAck, CommandRecorder, ack_thing, decode_ack
from cityops.sensing.mqtt_payload import BULK_TOPIC, OBSERVATION_FILTER, Limits, Reading, Rejection
from cityops.sensing.mqtt_wire import Publish

log = logging.getLogger(__name__)

DEAD_LETTER_TOPIC = "cityops/v1/deadletter"


@dataclass
class IngestOutcome:
    """What the store did with a batch: ``rejected`` maps a reading's index to (reason, detail)."""

    stored: int
    duplicates: int = 0
    rejected: dict[int, tuple[str, str]] = field(default_factory=dict)


class IngestHandler(Protocol):
    """Stores a batch of readings durably (committed when it returns); never partially."""

    def __call__(self, readings: Sequence[Reading]) -> IngestOutcome: ...


@dataclass
class ConsumerStats:
    """Counters since start (read them from any thread)."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    acked: int = 0
    batches: int = 0
    dead_letters: int = 0
    acks_recorded: int = 0
    store_failures: int = 0
    connects: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


class MqttConsumer:
    """Subscribe to the observation topics and store what arrives; see the module docstring."""

    def __init__(
        self,
        *,
        url: str,
        handler: IngestHandler,
        clock: Clock,
        client_id: str = "cityops-intake",
        limits: Limits | None = None,
        batch_size: int = 5000,
        linger: float = 0.005,
        max_batch_bytes: int = 2_000_000,
        max_pending: int = 60_000,
        max_pending_bytes: int = 64_000_000,
        share_group: str | None = None,
        dead_letter_topic: str = DEAD_LETTER_TOPIC,
        commands: CommandRecorder | None = None,
        retry_delays: Sequence[float] = (0.05, 0.2, 1.0, 5.0),
        isolate_after: int = 3,
    ) -> None:
        self.url, self.handler, self.clock = url, handler, clock
        self.client_id = client_id
        self.limits = limits or Limits()
        self.batch_size, self.linger, self.max_pending = batch_size, linger, max_pending
        self.max_batch_bytes = max_batch_bytes
        # Received, not yet stored: the socket is paused past either cap. In bytes too, since a
        # bulk message carries up to 10,000 readings (a message count alone let a 10x burst of
        # bulk messages hold 1.2 GB here).
        self.max_pending_bytes = max_pending_bytes
        self._pending_bytes = 0
        self.dead_letter_topic = dead_letter_topic
        self.commands = commands
        self.retry_delays = tuple(retry_delays)
        self.isolate_after = max(1, isolate_after)  # failures in a row before _isolate
        topics = [OBSERVATION_FILTER, BULK_TOPIC] + ([ACK_FILTER] if commands else [])
        prefix = f"$share/{share_group}/" if share_group else ""
        self.filters = [(prefix + t, 1) for t in topics]
        self.stats = ConsumerStats()
        self.connected = asyncio.Event()
        self.client: MqttClient | None = None
        self._pending: list[Publish] = []
        self._streams: dict[bytes, int | None] = {}  # topic → datastream id (None: not one)
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._decoder = ThreadPoolExecutor(1, thread_name_prefix="mqtt-decode")
        self._storer = ThreadPoolExecutor(1, thread_name_prefix="mqtt-store")

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set: reconnecting, never raising for broker trouble."""
        delay = 0.1
        try:
            while not stop.is_set():
                try:
                    await self._session(stop)
                    delay = 0.1
                except MqttError as exc:
                    log.warning("MQTT consumer: %s; reconnecting in %.1f s", exc, delay)
                except Exception:  # a bug must not stop the door: log it, reconnect, go on
                    log.exception("MQTT consumer failed; reconnecting in %.1f s", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 5.0)
        finally:
            self._decoder.shutdown(wait=True)
            self._storer.shutdown(wait=True)

    # -- one connection ----------------------------------------------------------------------
    async def _session(self, stop: asyncio.Event) -> None:
        self._pending, self._busy, self._timer = [], False, None
        self._pending_bytes = 0
        client = await MqttClient.open(
            self.url, client_id=self.client_id, clean_session=False, on_messages=self._received
        )
        self.client = client
        self.stats.connects += 1
        flusher = asyncio.ensure_future(self._flush_loop(client))
        try:
            await client.subscribe(self.filters)
            self.connected.set()
            stopping = asyncio.ensure_future(stop.wait())
            watched: list[asyncio.Future[Any]] = [stopping, client.closed, flusher]
            await asyncio.wait(watched, return_when="FIRST_COMPLETED")
            stopping.cancel()
            if flusher.done():
                flusher.result()  # a bug in the flush loop: surface it
            if stop.is_set() and client.is_open:
                client.pause()  # take nothing new; finish and acknowledge what we have
                self._wake.set()
                while (self._pending or self._busy) and client.is_open:
                    await asyncio.sleep(0.01)
                await client.disconnect()
        finally:
            self.connected.clear()
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            if client.is_open:
                client.abort()

    _busy = False

    def _received(self, messages: list[Publish]) -> None:
        self.stats.received += len(messages)
        self._pending.extend(messages)
        self._pending_bytes += sum(len(m.payload) for m in messages)
        if len(self._pending) >= self.batch_size:
            self._wake.set()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.linger, self._wake.set)
        full = len(self._pending) >= self.max_pending
        if (full or self._pending_bytes >= self.max_pending_bytes) and self.client is not None:
            self.client.pause()

    def _take(self) -> list[Publish]:
        """The next batch: ``batch_size`` messages or ``max_batch_bytes`` of payload."""
        pending, size, count = self._pending, 0, 0
        limit, most = self.max_batch_bytes, min(self.batch_size, len(pending))
        while count < most and size < limit:
            size += len(pending[count].payload)
            count += 1
        batch = pending[:count]
        del pending[:count]
        self._pending_bytes -= size
        return batch

    async def _flush_loop(self, client: MqttClient) -> None:
        """Decode batch k+1 while batch k is being stored; acknowledge k once it is."""
        loop = asyncio.get_running_loop()
        storing: asyncio.Future[Done | None] | None = None
        while True:
            if not client.is_open and storing is None:
                return  # gone: what is pending was not acknowledged and will come again
            if not self._pending and storing is None:
                self._busy = False
                await self._wake.wait()
                self._wake.clear()
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            self._busy = True
            decoded = None
            if self._pending and client.is_open:
                decoded = await loop.run_in_executor(self._decoder, self._decode, self._take())
            if storing is not None:
                done = await storing
                storing = None
                if done is None or not client.is_open:
                    return  # connection gone: the broker keeps the unacknowledged messages
                self._finish(client, done)
            if decoded is not None:
                storing = loop.run_in_executor(self._storer, self._store, decoded, client)

    def _finish(self, client: MqttClient, done: Done) -> None:
        for letter in done.dead:
            future = client.publish_nowait(self.dead_letter_topic, letter, qos=1)
            if future is not None:
                future.add_done_callback(_ignore)
        client.ack(done.pids)
        self.stats.acked += len(done.pids)
        if (
            len(self._pending) < self.max_pending // 2
            and self._pending_bytes < self.max_pending_bytes // 2
        ):
            client.resume()

    # -- the worker threads --------------------------------------------------------------------
    def _decode(self, batch: list[Publish]) -> Batch:
        """Payloads into readings and rejections (decoder thread; pure but for the clock)."""
        now = self.clock.now()
        limit = self.limits.max_payload_bytes
        bodies = payloads.parse_payloads(
            [m.payload if len(m.payload) <= limit else b"0" for m in batch]
        )
        out = Batch(batch, now)
        readings, starts, spans = out.readings, out.starts, out.spans
        lo, hi = now - self.limits.max_age, now + self.limits.max_lead
        streams = self._streams
        if len(streams) > 500_000:
            streams.clear()
        quick, single = payloads.quick_observation, payloads.SINGLE
        for i, message in enumerate(batch):
            topic = message.topic
            ds = streams.get(topic, 0)
            if ds == 0:
                ds = streams[topic] = payloads.datastream_of(topic)
            if ds is not None:
                reading = quick(ds, topic, message.payload, bodies[i], lo, hi)
                if reading is not None:
                    starts.append(len(readings))
                    spans.append((i, single))
                    readings.append(reading)
                    continue
            elif topic[:8] == b"cityops/" and self.commands is not None:
                thing = ack_thing(topic)
                if thing is not None:
                    out.acks.append((i, thing, bodies[i]))
                    continue
            decoded = payloads.decode(
                topic, message.payload, bodies[i], now=now, limits=self.limits
            )
            if decoded.rejections:
                out.bad[i] = decoded.rejections
            if decoded.readings:
                starts.append(len(readings))
                spans.append((i, decoded.rows))
                readings.extend(decoded.readings)
        return out

    def _store(self, work: Batch, client: MqttClient) -> Done | None:
        """Hand the readings to the store, retrying until it takes them (storer thread).

        Every ``isolate_after`` failures in a row the batch is tried message by message
        (:meth:`_isolate`): one bad message must not hold up the door for good.
        """
        attempt = 0
        while client.is_open:
            try:
                return self._store_once(work)
            except Exception:
                self.stats.store_failures += 1
                delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
                log.exception(
                    "storing %d readings failed; retry in %.2f s", len(work.readings), delay
                )
                attempt += 1
            if attempt % self.isolate_after == 0:
                done = self._isolate(work)
                if done is not None:
                    return done
            time.sleep(delay)
        return None

    def _isolate(self, work: Batch) -> Done | None:
        """Store ``work`` one message at a time. A message that fails while an empty batch
        commits (the store works) is dead-lettered as ``store_failed`` and acknowledged; if the
        store does not work, None (the caller retries the whole batch, whose stored messages
        the store's dedupe then drops)."""
        pids: list[int] = []
        dead: list[bytes] = []
        for part in one_per_message(work):
            try:
                done = self._store_once(part)
            except Exception as exc:
                self.stats.store_failures += 1
                alone = self._alone(part, exc)
                if alone is None:
                    return None  # the store is down, not this message
                done = alone
            pids += done.pids
            dead += done.dead
        return Done(pids, dead)

    def _alone(self, part: Batch, exc: Exception) -> Done | None:
        """``part`` (one message) failed: None if an empty batch fails too; else stored on a
        second try (the store may just have come back), or dead-lettered and acknowledged."""
        try:
            self.handler([])
        except Exception:
            return None
        try:
            return self._store_once(part)
        except Exception:
            log.exception("message on %r fails alone; dead-lettered", part.messages[0].topic)
        reason = [Rejection("store_failed", f"the store failed: {str(exc)[:200]}")]
        letter = self._dead_letter(part.messages[0], reason, 0)
        return Done([m.pid for m in part.messages if m.qos], [letter])

    def _store_once(self, work: Batch) -> Done:
        bad = {i: list(r) for i, r in work.bad.items()}
        outcome = self.handler(work.readings) if work.readings else IngestOutcome(0)
        refused: Counter[int] = Counter()
        for index, (reason, detail) in outcome.rejected.items():
            span = bisect.bisect_right(work.starts, index) - 1
            i, rows = work.spans[span]
            bad.setdefault(i, []).append(Rejection(reason, detail, rows[index - work.starts[span]]))
            refused[i] += 1
        for i, thing, body in work.acks:
            self._record_ack(i, thing, body, work.now, bad)
        self.stats.stored += outcome.stored
        self.stats.duplicates += outcome.duplicates
        self.stats.batches += 1
        accepted = {i: len(rows) for i, rows in work.spans}
        dead = [
            self._dead_letter(work.messages[i], why, accepted.get(i, 0) - refused[i])
            for i, why in sorted(bad.items())
        ]
        return Done([m.pid for m in work.messages if m.qos], dead)

    def _record_ack(
        self, i: int, thing: int, body: Any, now: datetime, bad: dict[int, list[Rejection]]
    ) -> None:
        assert self.commands is not None
        try:
            if isinstance(body, payloads._Bad):
                raise BadAck(body.reason, body.detail)
            ack = decode_ack(thing, body, now=now)
        except BadAck as exc:
            bad[i] = [Rejection(exc.reason, exc.detail)]
            return
        if self.commands.acknowledged(ack):
            self.stats.acks_recorded += 1
        else:
            bad[i] = [
                Rejection("unknown_command", f"no command {ack.command_id!r} for thing {thing}")
            ]

    def _dead_letter(self, message: Publish, reasons: list[Rejection], accepted: int) -> bytes:
        for r in reasons:
            self.stats.reasons[r.reason] += 1
        self.stats.dead_letters += 1
        at = self.clock.now()
        return payloads.dead_letter(message.topic, message.payload, reasons, accepted, at)


def _ignore(future: asyncio.Future[bytes]) -> None:
    """Dead letters are best effort once the original is acknowledged; fetch the error."""
    if not future.cancelled():
        future.exception()

"""The city bus on NATS: events to every process, observation batches to a JetStream work stream.

Events (``cases.filed`` …) go out on core NATS ``<prefix>.ev.<subject>`` and come back to this
process's subscribers through the same subscription as everyone else's, so an SSE stream in one
API process sees a case filed by a worker. They are live notifications, not records: the ledger
and the tables are the record, so at-most-once delivery is enough.

Observation batches go to the JetStream stream ``settings.bus_stream`` (file storage, work-queue
retention, discard-new limits): once ``submit`` returns, the readings are on disk and stay until
a worker acknowledges them. A full stream refuses (``QueueFull``, HTTP 503) rather than drops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future
from typing import Any, TypeVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from cityops.bus.memory import Event, Listener, MemoryBus
from cityops.bus.obs import Reading, checked, event_subject, obs_subject, split
from cityops.errors import QueueFull, QueueUnavailable
from cityops.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
# JetStream's answers when a discard-new stream is at a limit (messages, bytes, resources).
FULL_CODES = {10047, 10077, 10078}


def stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=settings.bus_stream,
        subjects=[obs_subject(settings.bus_prefix, "*")],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_msgs=settings.bus_max_msgs,
        max_bytes=settings.bus_max_bytes,
    )


async def connect(settings: Settings, *, name: str) -> Client:
    """A connection that keeps reconnecting; raises QueueUnavailable if the first one fails."""
    nc = Client()

    async def on_error(exc: Exception) -> None:
        log.warning("bus %s: %s", settings.bus_url, exc)

    try:
        await asyncio.wait_for(
            nc.connect(
                settings.bus_url,
                name=name,
                error_cb=on_error,
                connect_timeout=max(1, round(settings.bus_publish_timeout)),
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
            ),
            timeout=settings.bus_publish_timeout,
        )
    except (OSError, nats.errors.Error, TimeoutError) as exc:
        await nc.close()
        raise QueueUnavailable(f"cannot reach the bus at {settings.bus_url}: {exc!r}") from exc
    return nc


async def ensure_stream(js: JetStreamContext, settings: Settings) -> None:
    """Create the observation stream, or bring its limits to the settings."""
    config = stream_config(settings)
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != 10058:  # exists with other settings
            raise
        await js.update_stream(config)


class NatsBus:
    """Same calls as MemoryBus (publish/subscribe/subscribe_queue) plus ``submit`` for readings.

    nats-py is asyncio; the bus runs its own event loop on a thread so the synchronous code
    (``unit_of_work``, scheduler threads) can publish from anywhere.
    """

    def __init__(self, settings: Settings, *, name: str = "cityops") -> None:
        self.settings = settings
        self._local = MemoryBus()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="cityops-nats-bus", daemon=True
        )
        self._thread.start()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        try:
            self._call(self._connect(name))
        except BaseException:
            self._stop_loop()
            raise

    async def _connect(self, name: str) -> None:
        nc = await connect(self.settings, name=name)
        self._nc = nc
        self._js = nc.jetstream(timeout=self.settings.bus_publish_timeout)
        try:
            await ensure_stream(self._js, self.settings)
        except (nats.errors.Error, TimeoutError) as exc:
            await nc.close()
            raise QueueUnavailable(f"JetStream is not available on the bus: {exc}") from exc
        await nc.subscribe(f"{self.settings.bus_prefix}.ev.>", cb=self._on_event)
        await nc.flush()

    # --- events -------------------------------------------------------------------------

    async def _on_event(self, msg: Msg) -> None:
        try:
            body = json.loads(msg.data)
            event = Event(str(body["subject"]), dict(body.get("data") or {}))
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed event on %s", msg.subject)
            return
        self._local.publish(event)

    def publish(self, event: Event) -> None:
        """Send to every process's subscribers (this one's too); never blocks, never raises."""
        assert self._nc is not None
        payload = json.dumps(
            {"subject": event.subject, "data": event.data}, ensure_ascii=False, default=str
        ).encode()
        subject = event_subject(self.settings.bus_prefix, event.subject)
        future = asyncio.run_coroutine_threadsafe(self._nc.publish(subject, payload), self._loop)
        future.add_done_callback(_log_failure)

    def subscribe(self, pattern: str, listener: Listener) -> Callable[[], None]:
        return self._local.subscribe(pattern, listener)

    def subscribe_queue(
        self, pattern: str, loop: asyncio.AbstractEventLoop, maxsize: int = 1000
    ) -> tuple[asyncio.Queue[Event], Callable[[], None]]:
        return self._local.subscribe_queue(pattern, loop, maxsize)

    def flush(self) -> None:
        """Wait until everything published so far has reached the server."""
        assert self._nc is not None
        self._call(self._nc.flush(timeout=int(self.settings.bus_publish_timeout) or 1))

    # --- observation batches ------------------------------------------------------------

    def submit(self, readings: Iterable[Reading]) -> int:
        """Put readings on the work stream; returns the messages written.

        Raises QueueFull when the stream is at its limits and QueueUnavailable when the server
        does not confirm in time. After an error some partitions' messages may already be
        stored: sending the batch again is safe because the store dedupes.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError("submit() would block the bus loop; await submit_async()")
        return self._call(self._submit(list(readings)))

    async def submit_async(self, readings: Iterable[Reading]) -> int:
        """``submit`` for async callers (an async route) on any event loop."""
        batch = list(readings)
        if asyncio.get_running_loop() is self._loop:
            return await self._submit(batch)
        future = asyncio.run_coroutine_threadsafe(self._submit(batch), self._loop)
        return await asyncio.wrap_future(future)

    async def _submit(self, readings: list[Reading]) -> int:
        assert self._js is not None
        s = self.settings
        messages = split([checked(r) for r in readings], s.bus_partitions, s.bus_chunk)
        results = await asyncio.gather(
            *(
                self._js.publish(
                    obs_subject(s.bus_prefix, p),
                    payload,
                    timeout=s.bus_publish_timeout,
                    stream=s.bus_stream,
                )
                for p, payload in messages
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise _translate(result, s) from result
        return len(messages)

    def backlog(self) -> int:
        """Batches on the work stream not yet acknowledged by a worker (the lag)."""
        assert self._js is not None
        js = self._js

        async def count() -> int:
            info = await js.stream_info(self.settings.bus_stream)
            return int(info.state.messages)

        return self._call(count())

    # --- lifecycle ----------------------------------------------------------------------

    def _call(self, coro: Awaitable[T]) -> T:
        async def run() -> T:
            return await coro

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result()

    def close(self) -> None:
        """Send what is queued, then disconnect."""
        if self._nc is not None and not self._nc.is_closed:
            try:
                self._call(self._nc.drain())
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("bus did not drain cleanly: %s", exc)
        self._stop_loop()

    def _stop_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()


def _translate(exc: BaseException, settings: Settings) -> Exception:
    if isinstance(exc, nats.js.errors.APIError) and exc.err_code in FULL_CODES:
        return QueueFull(
            f"the observation queue is full ({exc.description}); slow down and retry",
            max_msgs=settings.bus_max_msgs,
            max_bytes=settings.bus_max_bytes,
        )
    if isinstance(exc, nats.errors.Error | TimeoutError):
        return QueueUnavailable(f"the bus did not accept the batch: {exc!r}; retry later")
    return exc if isinstance(exc, Exception) else RuntimeError(repr(exc))


def _log_failure(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("event not published: %s", future.exception())

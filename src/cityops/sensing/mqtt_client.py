"""A lean asyncio MQTT 3.1.1 client: received PUBLISHes are handed over in bulk, acks on demand.

Unlike paho or aiomqtt it never acknowledges a QoS 1 message by itself: the owner calls
:meth:`MqttClient.ack` once the message is safe (stored), so a crash before that means the
broker delivers it again. Each socket read is split into packets in one pass
(:func:`~cityops.sensing.mqtt_wire.split_frames`) and the PUBLISHes go to ``on_messages`` as one
list; acks for a whole batch go out as one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from cityops.sensing import mqtt_wire as wire

log = logging.getLogger(__name__)
MessagesCallback = Callable[[list[wire.Publish]], None]


class MqttError(Exception):
    """The broker refused us, or the connection broke."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://[user[:password]@]host[:port]`` (TLS is left to a proxy or a later change)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp"):
            raise ValueError(f"unsupported MQTT URL scheme in {url!r}; use mqtt://host:port")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 1883,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class MqttClient(asyncio.Protocol):
    """One connection to a broker. Use :meth:`open`; ``closed`` resolves when it ends."""

    def __init__(self, on_messages: MessagesCallback | None = None) -> None:
        self.on_messages = on_messages
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._loop = asyncio.get_running_loop()
        self._waiters: dict[tuple[int, int], asyncio.Future[bytes]] = {}
        self._next_pid = 0
        self._ping: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self.session_present = False
        self._pings = self._pongs = 0
        self._pong_waiters: list[tuple[int, asyncio.Future[bytes]]] = []

    # -- opening and closing -------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        url: str,
        *,
        client_id: str,
        clean_session: bool = False,
        keepalive: int = 30,
        on_messages: MessagesCallback | None = None,
        timeout: float = 10.0,
    ) -> MqttClient:
        """Connect and wait for CONNACK; raises :class:`MqttError` if refused."""
        address = BrokerAddress.parse(url)
        loop = asyncio.get_running_loop()
        try:
            _, client = await asyncio.wait_for(
                loop.create_connection(lambda: cls(on_messages), address.host, address.port),
                timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise MqttError(
                f"cannot reach the broker at {address.host}:{address.port}: {exc}"
            ) from exc
        body = await client._request(
            (wire.CONNACK, 0),
            wire.connect_packet(
                client_id,
                clean_session=clean_session,
                keepalive=keepalive,
                username=address.username,
                password=address.password,
            ),
            timeout,
        )
        if body[1] != 0:
            client.abort()
            raise MqttError(f"broker refused the connection: {wire.CONNACK_CODES.get(body[1])}")
        client.session_present = bool(body[0] & 1)
        if keepalive:
            client._ping = asyncio.ensure_future(client._keepalive(keepalive))
        return client

    async def disconnect(self, timeout: float = 5.0) -> None:
        """Make sure the broker has read our acks, say DISCONNECT and close.

        MQTT does not acknowledge a PUBACK. The broker answers packets in order, so we send a
        PINGREQ and wait for its PINGRESP. Closing at once could lose a burst of PUBACKs still
        unread by the broker (measured: thousands when the socket was closed with unread data
        and reset). Those messages would be delivered again.
        Unacknowledged messages stay with the broker either way.
        """
        if self.transport is not None and not self.transport.is_closing():
            self.resume()  # the PINGRESP must be read; anything else that comes is not acked
            with contextlib.suppress(MqttError, TimeoutError):
                await asyncio.wait_for(self.ping(), timeout)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(wire.DISCONNECT_PACKET)
            self.transport.close()
        with contextlib.suppress(MqttError):
            await self.closed

    def abort(self) -> None:
        """Drop the connection at once, as a crash would: no DISCONNECT, nothing flushed."""
        if self.transport is not None:
            self.transport.abort()

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    # -- requests --------------------------------------------------------------------------
    async def subscribe(self, filters: Sequence[tuple[str, int]], timeout: float = 10.0) -> bytes:
        """Subscribe and return the granted QoS codes (0x80 = refused)."""
        pid = self._allocate()
        body = await self._request((wire.SUBACK, pid), wire.subscribe_packet(pid, filters), timeout)
        granted = body[2:]
        if any(code == 0x80 for code in granted):
            raise MqttError(f"broker refused a subscription among {[f for f, _ in filters]}")
        return granted

    def publish_nowait(
        self, topic: str | bytes, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[bytes] | None:
        """Send a PUBLISH; at QoS 1 returns a future that resolves on the broker's PUBACK."""
        if not self.is_open:
            raise MqttError("not connected")
        assert self.transport is not None
        raw = topic.encode() if isinstance(topic, str) else topic
        if not qos:
            self.transport.write(wire.publish_packet(raw, payload, qos=0, retain=retain))
            return None
        pid = self._allocate()
        future: asyncio.Future[bytes] = self._loop.create_future()
        self._waiters[(wire.PUBACK, pid)] = future
        self.transport.write(wire.publish_packet(raw, payload, qos=1, pid=pid, retain=retain))
        return future

    async def publish(
        self, topic: str | bytes, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish and, at QoS 1, wait until the broker has the message."""
        future = self.publish_nowait(topic, payload, qos=qos, retain=retain)
        if future is not None:
            await future

    async def ping(self) -> None:
        """PINGREQ and wait for the answer to this very ping (earlier ones are answered first)."""
        if not self.is_open:
            raise MqttError("not connected")
        assert self.transport is not None
        self._pings += 1
        future: asyncio.Future[bytes] = self._loop.create_future()
        self._pong_waiters.append((self._pings, future))
        self.transport.write(wire.PINGREQ_PACKET)
        await future

    def ack(self, pids: Iterable[int]) -> None:
        """Acknowledge received QoS 1 messages (one write for all of them)."""
        if self.transport is not None and not self.transport.is_closing():
            table = wire.PUBACKS
            self.transport.write(b"".join([table[p] for p in pids]))

    def pause(self) -> None:
        """Stop reading from the socket (back-pressure: the broker holds the rest)."""
        if self.transport is not None:
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        try:
            publishes, control, used = wire.split_frames(buf)
        except wire.ProtocolError as exc:
            log.error("MQTT protocol error from the broker: %s", exc)
            self.abort()
            return
        del buf[:used]
        for first, body in control:
            self._control(first >> 4, body)
        if publishes and self.on_messages is not None:
            self.on_messages(publishes)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._ping is not None:
            self._ping.cancel()
        error = MqttError(f"connection lost: {exc}" if exc else "connection closed")
        for future in [*self._waiters.values(), *(f for _, f in self._pong_waiters)]:
            if not future.done():
                future.set_exception(error)
        self._waiters.clear()
        self._pong_waiters.clear()
        if not self.closed.done():
            self.closed.set_result(None)

    # -- internals ---------------------------------------------------------------------------
    def _control(self, kind: int, body: bytes) -> None:
        if kind == wire.PINGRESP:
            self._pongs += 1
            while self._pong_waiters and self._pong_waiters[0][0] <= self._pongs:
                _, waiter = self._pong_waiters.pop(0)
                if not waiter.done():
                    waiter.set_result(b"")
            return
        key = (kind, 0) if kind == wire.CONNACK else (kind, (body[0] << 8) | body[1])
        future = self._waiters.pop(key, None)
        if future is not None and not future.done():
            future.set_result(body)

    async def _request(self, key: tuple[int, int], packet: bytes, timeout: float) -> bytes:
        future: asyncio.Future[bytes] = self._loop.create_future()
        self._waiters[key] = future
        assert self.transport is not None
        self.transport.write(packet)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._waiters.pop(key, None)
            self.abort()
            raise MqttError(f"no answer from the broker within {timeout} s") from None

    def _allocate(self) -> int:
        for _ in range(65535):
            self._next_pid = self._next_pid % 65535 + 1
            if (wire.PUBACK, self._next_pid) not in self._waiters and (
                wire.SUBACK,
                self._next_pid,
            ) not in self._waiters:
                return self._next_pid
        raise MqttError("all 65,535 packet ids are in flight")

    async def _keepalive(self, keepalive: int) -> None:
        while self.is_open:
            await asyncio.sleep(keepalive / 2)
            if self.transport is not None and not self.transport.is_closing():
                self._pings += 1
                self.transport.write(wire.PINGREQ_PACKET)

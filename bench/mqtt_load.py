"""A fast MQTT 3.1.1 publisher for the bench: pre-built PUBLISH packets over a blocking socket.

Messages are built before the clock starts; sending is ``sendall`` of 1,000 packets at a
time, with at most ``window`` unacknowledged. The broker answers a publisher only with
PUBACKs (4 bytes each), so counting received bytes counts acknowledgements.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cityops.sensing import mqtt_wire as wire

START = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
CHUNK = 1000


def observation_packets(first: int, count: int, datastreams: int) -> list[bytes]:
    """``count`` single-observation messages (distinct datastream/time), CHUNK per bytes."""
    chunks: list[bytes] = []
    part: list[bytes] = []
    for n in range(first, first + count):
        ds = n % datastreams + 1
        at = START + timedelta(milliseconds=n // datastreams * 1000 + ds % 1000)
        body = json.dumps(
            {"result": round(20 + (n % 97) / 10, 2), "phenomenonTime": at.isoformat()}
        ).encode()
        pid = n % 65535 + 1
        topic = f"v1.1/Datastreams({ds})/Observations".encode()
        part.append(wire.publish_packet(topic, body, qos=1, pid=pid))
        if len(part) == CHUNK:
            chunks.append(b"".join(part))
            part = []
    if part:
        chunks.append(b"".join(part))
    return chunks


def bulk_packets(first: int, count: int, datastreams: int, rows: int) -> list[bytes]:
    """``count`` readings as bulk messages of ``rows`` rows ([ds, epoch ms, value])."""
    packets: list[bytes] = []
    base = int(START.timestamp() * 1000)
    for m, start in enumerate(range(first, first + count, rows)):
        body = [
            [n % datastreams + 1, base + n // datastreams * 1000 + n % 1000, (n % 97) / 10]
            for n in range(start, min(start + rows, first + count))
        ]
        payload = json.dumps({"id": f"bulk-{start}", "rows": body}).encode()
        packets.append(wire.publish_packet(b"cityops/v1/bulk", payload, qos=1, pid=m % 65535 + 1))
    return packets


def connect(port: int, client_id: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(wire.connect_packet(client_id, clean_session=True, keepalive=600))
    if sock.recv(4)[:2] != b"\x20\x02":
        raise RuntimeError("no CONNACK")
    return sock


class _Acks:
    """PUBACKs read so far (4 bytes each; the broker sends a publisher nothing else)."""

    def __init__(self, sock: socket.socket, on_acked: Callable[[int], None] | None) -> None:
        self.sock, self.bytes, self.on_acked = sock, 0, on_acked

    @property
    def count(self) -> int:
        return self.bytes // 4

    def read(self, timeout: float | None = None) -> None:
        """Read what has arrived (waiting at most ``timeout`` seconds; None: until something)."""
        if timeout is not None and not select.select([self.sock], [], [], timeout)[0]:
            return
        data = self.sock.recv(1 << 20)
        if not data:
            raise RuntimeError("broker closed the connection")
        before = self.count
        self.bytes += len(data)
        if self.on_acked is not None and self.count > before:
            self.on_acked(self.count - before)


def publish_all(
    port: int,
    client_id: str,
    chunks: list[bytes],
    messages: int,
    window: int,
    *,
    rate: float = 0.0,
    on_acked: Callable[[int], None] | None = None,
) -> float:
    """Send every chunk and wait for all PUBACKs; returns the seconds taken.

    ``rate`` (chunks per second) paces the sending, for an offered load rather than the most
    the publisher can do; acknowledgements are read while it waits. ``on_acked`` is told each
    time more messages are acknowledged (how many more).
    """
    sock = connect(port, client_id)
    started = time.perf_counter()
    sent = 0
    acks = _Acks(sock, on_acked)
    per_chunk = max(1, messages // max(1, len(chunks)))
    for k, chunk in enumerate(chunks):
        if rate:
            due = started + k / rate
            while (wait := due - time.perf_counter()) > 0:
                acks.read(wait)
        while sent - acks.count > window:
            acks.read()
        sock.sendall(chunk)
        sent += per_chunk
    while acks.count < messages:
        acks.read()
    took = time.perf_counter() - started
    sock.sendall(wire.DISCONNECT_PACKET)
    sock.close()
    return took

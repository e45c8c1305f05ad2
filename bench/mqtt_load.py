"""A fast MQTT 3.1.1 publisher for the bench: pre-built PUBLISH packets over a blocking socket.

Messages are built before the clock starts; sending is ``sendall`` of 1,000 packets at a
time, with at most ``window`` unacknowledged. The broker answers a publisher only with
PUBACKs (4 bytes each), so counting received bytes counts acknowledgements.
"""

from __future__ import annotations

import json
import socket
import time
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


def publish_all(
    port: int, client_id: str, chunks: list[bytes], messages: int, window: int
) -> float:
    """Send every chunk and wait for all PUBACKs; returns the seconds taken."""
    sock = connect(port, client_id)
    started = time.perf_counter()
    sent = acked_bytes = 0
    per_chunk = max(1, messages // max(1, len(chunks)))
    for chunk in chunks:
        while sent - acked_bytes // 4 > window:
            acked_bytes += len(sock.recv(1 << 20))
        sock.sendall(chunk)
        sent += per_chunk
    while acked_bytes // 4 < messages:
        data = sock.recv(1 << 20)
        if not data:
            raise RuntimeError("broker closed the connection")
        acked_bytes += len(data)
    took = time.perf_counter() - started
    sock.sendall(wire.DISCONNECT_PACKET)
    sock.close()
    return took

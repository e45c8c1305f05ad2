"""MQTT 3.1.1 packets, encoded and split from a byte stream (pure functions, no I/O).

Only what the sensing door needs: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH/PUBACK (QoS 0
and 1), PINGREQ/PINGRESP and DISCONNECT. ``split_frames`` cuts every complete packet out of a
receive buffer in one pass, which is what lets one Python process keep up with a broker
delivering tens of thousands of small messages a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"
MAX_REMAINING = 268_435_455  # the largest length the 4-byte varint can say

CONNACK_CODES = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}

# Every PUBACK there can be, built once: acknowledging is then a table lookup and a join.
PUBACKS: tuple[bytes, ...] = tuple(b"\x40\x02" + pid.to_bytes(2, "big") for pid in range(65536))


class ProtocolError(Exception):
    """The peer sent bytes that are not MQTT 3.1.1."""


class Publish(NamedTuple):
    """A PUBLISH received: ``pid`` is 0 at QoS 0."""

    topic: bytes
    payload: bytes
    pid: int
    qos: int
    dup: bool


def varint(n: int) -> bytes:
    """The MQTT "remaining length" encoding of ``n``."""
    if not 0 <= n <= MAX_REMAINING:
        raise ValueError(f"length {n} out of range")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: bytes) -> bytes:
    if len(value) > 65535:
        raise ValueError("MQTT strings are at most 65,535 bytes")
    return len(value).to_bytes(2, "big") + value


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + varint(len(body)) + body


def connect_packet(
    client_id: str,
    *,
    clean_session: bool,
    keepalive: int,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """CONNECT for protocol level 4 (3.1.1)."""
    flags = 0x02 if clean_session else 0
    payload = _string(client_id.encode())
    if username is not None:
        flags |= 0x80
        payload += _string(username.encode())
        if password is not None:
            flags |= 0x40
            payload += _string(password.encode())
    header = _string(b"MQTT") + bytes((4, flags)) + keepalive.to_bytes(2, "big")
    return _packet(CONNECT << 4, header + payload)


def subscribe_packet(pid: int, filters: Sequence[tuple[str, int]]) -> bytes:
    """SUBSCRIBE to topic filters, each with its maximum QoS."""
    body = pid.to_bytes(2, "big")
    for topic, qos in filters:
        body += _string(topic.encode()) + bytes((qos,))
    return _packet((SUBSCRIBE << 4) | 0x02, body)


def publish_packet(
    topic: bytes, payload: bytes, *, qos: int, pid: int = 0, retain: bool = False
) -> bytes:
    """PUBLISH at QoS 0 (``pid`` ignored) or QoS 1."""
    first = (PUBLISH << 4) | (qos << 1) | (1 if retain else 0)
    body = _string(topic) + (pid.to_bytes(2, "big") if qos else b"") + payload
    return _packet(first, body)


def split_frames(
    buf: bytes | bytearray, limit: int = MAX_REMAINING
) -> tuple[list[Publish], list[tuple[int, bytes]], int]:
    """Cut the complete packets out of ``buf``.

    Returns the PUBLISH packets, the other packets as (first byte, body), and how many bytes
    were used (the rest is an incomplete packet to keep for the next read). A packet longer
    than ``limit`` is a protocol error (the broker's own size limit should stop it first).
    """
    publishes: list[Publish] = []
    control: list[tuple[int, bytes]] = []
    pos, end = 0, len(buf)
    append = publishes.append
    while end - pos >= 2:
        first = buf[pos]
        length = buf[pos + 1]
        head = 2
        if length & 0x80:
            length &= 0x7F
            shift = 7
            while True:
                if pos + head >= end:
                    return publishes, control, pos
                if head > 4:
                    raise ProtocolError("remaining length longer than four bytes")
                digit = buf[pos + head]
                head += 1
                length |= (digit & 0x7F) << shift
                shift += 7
                if not digit & 0x80:
                    break
        if length > limit:
            raise ProtocolError(f"packet of {length} bytes is over the limit of {limit}")
        stop = pos + head + length
        if stop > end:
            break
        if first >> 4 == PUBLISH:
            start = pos + head
            tlen = (buf[start] << 8) | buf[start + 1]
            tstop = start + 2 + tlen
            qos = (first >> 1) & 3
            if qos:
                pid = (buf[tstop] << 8) | buf[tstop + 1]
                append(
                    Publish(
                        bytes(buf[start + 2 : tstop]),
                        bytes(buf[tstop + 2 : stop]),
                        pid,
                        qos,
                        bool(first & 8),
                    )
                )
            else:
                append(Publish(bytes(buf[start + 2 : tstop]), bytes(buf[tstop:stop]), 0, 0, False))
        else:
            control.append((first, bytes(buf[pos + head : stop])))
        pos = stop
    return publishes, control, pos

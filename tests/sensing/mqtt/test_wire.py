"""The packet splitter: any cut of the byte stream gives the same packets."""

from __future__ import annotations

import pytest

from cityops.sensing import mqtt_wire as wire


def stream() -> bytes:
    return b"".join(
        [
            wire.publish_packet(b"v1.1/Datastreams(1)/Observations", b"{}", qos=1, pid=7),
            b"\xd0\x00",  # PINGRESP
            wire.publish_packet(b"cityops/v1/bulk", b"x" * 300, qos=1, pid=65535),  # 2-byte length
            wire.publish_packet(b"t", b"q0", qos=0),
            b"\x40\x02\x00\x09",  # PUBACK 9
        ]
    )


def test_split_frames_whole_and_cut_at_every_byte() -> None:
    data = stream()
    publishes, control, used = wire.split_frames(data)
    assert used == len(data)
    assert [(p.topic, p.pid, p.qos, len(p.payload)) for p in publishes] == [
        (b"v1.1/Datastreams(1)/Observations", 7, 1, 2),
        (b"cityops/v1/bulk", 65535, 1, 300),
        (b"t", 0, 0, 2),
    ]
    assert control == [(0xD0, b""), (0x40, b"\x00\x09")]
    for cut in range(len(data)):
        buf = bytearray(data[:cut])
        first, ctl1, used1 = wire.split_frames(buf)
        del buf[:used1]
        buf += data[cut:]
        rest, ctl2, used2 = wire.split_frames(buf)
        assert first + rest == publishes and ctl1 + ctl2 == control
        assert used2 == len(buf)


def test_a_length_over_the_limit_is_a_protocol_error() -> None:
    with pytest.raises(wire.ProtocolError):
        wire.split_frames(b"\x30\xff\xff\xff\x7f", limit=1_000_000)


def test_varint_round_trip_bounds() -> None:
    assert wire.varint(0) == b"\x00"
    assert wire.varint(127) == b"\x7f"
    assert wire.varint(128) == b"\x80\x01"
    assert wire.varint(wire.MAX_REMAINING) == b"\xff\xff\xff\x7f"
    with pytest.raises(ValueError):
        wire.varint(wire.MAX_REMAINING + 1)

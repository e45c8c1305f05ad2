"""The wire format and partitioning of observation batches."""

from __future__ import annotations

import pytest

from cityops.bus.obs import checked, decode, event_subject, partition_of, split
from cityops.errors import ValidationFailed


def test_a_datastream_always_lands_in_one_partition_in_its_order() -> None:
    readings = [
        (ds, f"2026-11-25T08:00:{i:02d}Z", float(i), None) for i in range(40) for ds in (3, 7, 11)
    ]
    messages = split(readings, partitions=4, chunk=7)
    seen: dict[int, list[float]] = {}
    for p, payload in messages:
        for ds, _, value, _ in decode(payload):
            assert partition_of(ds, 4) == p
            seen.setdefault(ds, []).append(value)
    assert seen == {ds: [float(i) for i in range(40)] for ds in (3, 7, 11)}
    assert all(len(decode(payload)) <= 7 for _, payload in messages)


@pytest.mark.parametrize(
    "bad",
    [
        ("7", "2026-11-25T08:00:00Z", 1.0, None),
        (True, "2026-11-25T08:00:00Z", 1.0, None),
        (7, None, 1.0, None),
        (7, "2026-11-25T08:00:00Z", float("nan"), None),
        (7, float("inf"), 1.0, None),
        (7, "2026-11-25T08:00:00Z", 1.0, 42),
        (7, "2026-11-25T08:00:00Z", 1.0),
    ],
)
def test_a_malformed_reading_is_refused_with_the_reason(bad: tuple[object, ...]) -> None:
    with pytest.raises(ValidationFailed):
        checked(bad)


def test_a_foreign_payload_is_not_taken_for_a_batch() -> None:
    for payload in (b"{}", b"[[1, 2]]", b"not json"):
        with pytest.raises(ValueError):
            decode(payload)


def test_event_subjects_map_to_nats_subjects_safely() -> None:
    assert event_subject("cityops", "cases.filed") == "cityops.ev.cases.filed"
    assert event_subject("cityops", "bad subject") == "cityops.ev._"
    assert event_subject("cityops", "cases..x") == "cityops.ev._"

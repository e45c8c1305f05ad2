"""The intake fast path: dedupe, rejections with reasons, atomic batches, latest value."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.sensing import service
from cityops.sensing.models import Datastream
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.sensing.validate import Reason
from tests.sensing.conftest import Network


def _iso(clock: FakeClock, seconds: float = 0) -> str:
    return (clock.now() + timedelta(seconds=seconds)).isoformat()


def _count(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(Stored)) or 0)


def test_same_datastream_and_time_is_stored_once(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    ds = network.ds_ids[0]
    batch = [
        {"datastream_id": ds, "phenomenon_time": _iso(clock, -10), "result": 1.5},
        {"datastream_id": ds, "phenomenon_time": _iso(clock, -5), "result": 2.5},
        [ds, _iso(clock, -5), 9.0],  # same instant again in the same batch
    ]
    with session_factory() as s, s.begin():
        first = service.ingest(session=s, readings=batch, clock=clock)
    assert (first.accepted, first.stored, first.duplicates) == (3, 2, 1)
    # The same instant written another way (a +08:00 offset) is still the same reading.
    again = [[ds, (clock.now() - timedelta(seconds=10)).astimezone().isoformat(), 7.0]]
    with session_factory() as s, s.begin():
        second = service.ingest(session=s, readings=again, clock=clock)
    assert (second.accepted, second.stored, second.duplicates) == (1, 0, 1)
    assert _count(session_factory) == 2
    with session_factory() as s:
        rows = s.execute(select(Stored.result).order_by(Stored.phenomenon_time)).all()
    assert [r[0] for r in rows] == [1.5, 2.5]


def test_message_id_is_taken_once(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    ds = network.ds_ids[1]
    reading = {"datastream_id": ds, "time": _iso(clock, -1), "result": 3, "message_id": "m-1"}
    later = {"datastream_id": ds, "time": _iso(clock, 0), "result": 4, "message_id": "m-1"}
    with session_factory() as s, s.begin():
        assert service.ingest(session=s, readings=[reading], clock=clock).stored == 1
    with session_factory() as s, s.begin():
        res = service.ingest(session=s, readings=[later], clock=clock)
    assert (res.stored, res.duplicates) == (0, 1)
    # Another source may reuse the id; and a whole batch can carry one message id.
    with session_factory() as s, s.begin():
        assert service.ingest(session=s, readings=[later], clock=clock, source="mqtt").stored == 1
    batch = [[ds, _iso(clock, -30), 1.0]]
    for expected in (1, 0):
        with session_factory() as s, s.begin():
            res = service.ingest(session=s, readings=batch, clock=clock, message_id="b-7")
        assert res.stored == expected
    assert _count(session_factory) == 3


def test_bad_readings_are_rejected_with_reasons(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    ds = network.ds_ids[0]
    batch: list[object] = [
        {"datastream_id": ds, "phenomenon_time": _iso(clock), "result": 1.0},  # good
        {"datastream_id": ds, "result": 1.0},  # no time
        {"datastream_id": ds, "phenomenon_time": _iso(clock, -1), "result": float("nan")},
        {"datastream_id": ds, "phenomenon_time": _iso(clock, -2), "result": float("inf")},
        {"datastream_id": 999_999, "phenomenon_time": _iso(clock), "result": 1.0},
        {"datastream_id": ds, "phenomenon_time": _iso(clock, 3 * 86400), "result": 1.0},
        {"datastream_id": ds, "phenomenon_time": _iso(clock, -30 * 86400), "result": 1.0},
        {"datastream_id": ds, "phenomenon_time": _iso(clock, -3), "result": "high"},
        {"datastream_id": "abc", "phenomenon_time": _iso(clock), "result": 1.0},
        {"datastream_id": ds, "phenomenon_time": "yesterday", "result": 1.0},
        {"datastream_id": ds, "phenomenon_time": "2026-11-25T01:00:00", "result": 1.0},
        "not a reading",
        {"datastream_id": network.truth_id, "phenomenon_time": _iso(clock), "result": True},
    ]
    with session_factory() as s, s.begin():
        res = service.ingest(session=s, readings=batch, clock=clock)
    reasons = {r.index: r.reason for r in res.rejected}
    assert reasons == {
        1: Reason.malformed,
        2: Reason.not_finite,
        3: Reason.not_finite,
        4: Reason.unknown_datastream,
        5: Reason.time_in_future,
        6: Reason.time_too_old,
        7: Reason.wrong_type,
        8: Reason.wrong_type,
        9: Reason.malformed,
        10: Reason.malformed,
        11: Reason.malformed,
    }
    assert (res.accepted, res.stored) == (2, 2)
    with session_factory() as s:
        truth = s.scalar(select(Stored.result_json).where(Stored.datastream_id == network.truth_id))
    assert truth is True


def test_a_failing_batch_leaves_nothing_behind(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    ds = network.ds_ids[0]
    batch = [[ds, _iso(clock, -i), float(i)] for i in range(50)]
    with pytest.raises(RuntimeError), session_factory() as s, s.begin():
        service.ingest(session=s, readings=batch, clock=clock, message_id="doomed")
        raise RuntimeError("the caller fails after the insert")
    assert _count(session_factory) == 0
    with session_factory() as s:
        assert s.get(Datastream, ds).latest_phenomenon_time is None  # type: ignore[union-attr]
    # The message id went with the rollback: the retry is stored in full.
    with session_factory() as s, s.begin():
        assert (
            service.ingest(session=s, readings=batch, clock=clock, message_id="doomed").stored == 50
        )


def test_latest_value_moves_forward_only(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    ds = network.ds_ids[2]
    with session_factory() as s, s.begin():
        service.ingest(
            session=s,
            readings=[[ds, _iso(clock, -60), 1.0], [ds, _iso(clock, -30), 2.0]],
            clock=clock,
        )
    with session_factory() as s, s.begin():
        service.ingest(session=s, readings=[[ds, _iso(clock, -90), 5.0]], clock=clock)  # late
    with session_factory() as s:
        row = s.get(Datastream, ds)
        assert row is not None
        assert row.latest_result == 2.0
        assert row.latest_phenomenon_time == clock.now() - timedelta(seconds=30)


def test_latest_values_folded_later_keep_each_streams_newest(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    """A rollup folding several batches at once (``update_latest=False``) meets a stream's
    readings out of time order — the newest first, a late one last — and keeps the newest."""
    from cityops.sensing import timeseries

    a, b = network.ds_ids[0], network.ds_ids[1]
    batches = [
        [[a, _iso(clock, -10), 3.0], [b, _iso(clock, -50), 7.0]],
        [[a, _iso(clock, -40), 1.0], [b, _iso(clock, -20), 8.0], [a, _iso(clock, -30), 2.0]],
        [[a, _iso(clock, -70), 9.0], [b, _iso(clock, -5), 6.0]],
    ]
    for batch in batches:
        with session_factory() as s, s.begin():
            service.ingest(session=s, readings=batch, clock=clock, update_latest=False)
    with session_factory() as s:
        assert s.get(Datastream, a).latest_result is None  # type: ignore[union-attr]
    with session_factory() as s, s.begin():
        timeseries.rollup(session=s, fold_latest=True, now=clock.now())
    with session_factory() as s:
        for ds, value, seconds in ((a, 3.0, -10), (b, 6.0, -5)):
            row = s.get(Datastream, ds)
            assert row is not None
            assert (row.latest_result, row.latest_phenomenon_time) == (
                value,
                clock.now() + timedelta(seconds=seconds),
            )


def test_one_event_per_batch_after_commit(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    ds = network.ds_ids[0]
    with session_factory() as s, s.begin():
        service.ingest(session=s, readings=[[ds, _iso(clock, -1), 1.0]], clock=clock)
        service.ingest(session=s, readings=[[ds, _iso(clock, -1), 1.0]], clock=clock)  # dup
        events = list(s.info.get("events", []))
    assert [e.subject for e in events] == ["observations.batch"]
    assert events[0].data["datastream_id"] == [ds]
    assert events[0].data["result"] == [1.0]


def test_catalogue_changes_are_seen_by_the_next_batch(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    from cityops.sensing import entities

    ds = network.ds_ids[0]
    with session_factory() as s, s.begin():
        assert service.ingest(session=s, readings=[[ds, _iso(clock, -9), 1.0]], clock=clock).stored
    with session_factory() as s, s.begin():
        entities.delete_(session=s, model=Datastream, id=ds)
        # One added behind the service's back (plain ORM) is found on a miss.
        other = s.get(Datastream, network.ds_ids[1])
        assert other is not None
        added = Datastream(
            name="added",
            unit_of_measurement={},
            thing_id=other.thing_id,
            sensor_id=other.sensor_id,
            observed_property_id=other.observed_property_id,
        )
        s.add(added)
    with session_factory() as s, s.begin():
        res = service.ingest(
            session=s, readings=[[ds, _iso(clock), 1.0], [added.id, _iso(clock), 2.0]], clock=clock
        )
    assert [r.reason for r in res.rejected] == [Reason.unknown_datastream]
    assert res.stored == 1


def test_values_are_stored_exactly_as_sent(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    """The SQLite insert hands SQLite one JSON text: every float must come back bit for bit,
    and the optional fields (result time, parameters, non-numeric results) must survive."""
    ds = network.ds_ids[2]
    values = [1 / 3, 0.1, -2.5e-300, 1.7976931348623157e308, 2.0**53 + 2, 5e-324, 12345.678901]
    plain = [[ds, _iso(clock, -100 + i), v] for i, v in enumerate(values)]
    full = [
        {
            "datastream_id": ds,
            "phenomenon_time": _iso(clock, -1),
            "result": 7.25,
            "result_time": _iso(clock, 0),
            "parameters": {"单位": "ppm", "n": [1, 2]},
        },
        {"datastream_id": network.truth_id, "phenomenon_time": _iso(clock, -1), "result": True},
    ]
    with session_factory() as s, s.begin():
        res = service.ingest(session=s, readings=plain + full, clock=clock)
    assert res.rejected == [] and res.stored == len(values) + 2
    with session_factory() as s:
        rows = s.execute(
            select(Stored.result, Stored.result_time, Stored.parameters)
            .where(Stored.datastream_id == ds)
            .order_by(Stored.phenomenon_time)
        ).all()
        other = s.execute(
            select(Stored.result, Stored.result_json).where(
                Stored.datastream_id == network.truth_id
            )
        ).one()
    assert [r.result for r in rows[: len(values)]] == values
    assert rows[-1].result == 7.25
    assert rows[-1].result_time == clock.now()
    assert rows[-1].parameters == {"单位": "ppm", "n": [1, 2]}
    assert (other.result, other.result_json) == (None, True)

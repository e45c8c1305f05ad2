"""Aggregates equal a direct computation; retention; latest values in a box; time ranges."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.sensing import door, service, timeseries
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.settings import Settings
from tests.sensing.conftest import Network


def _put(factory: sessionmaker[Session], clock: FakeClock, readings: list[list[object]]) -> None:
    with factory() as s, s.begin():
        res = service.ingest(session=s, readings=readings, clock=clock)
        assert not res.rejected, res.rejected


def _fold(factory: sessionmaker[Session], fold_latest: bool = False) -> int:
    with factory() as s, s.begin():
        return timeseries.rollup(session=s, fold_latest=fold_latest)


@pytest.mark.parametrize("update_latest", [True, False])
def test_aggregates_equal_a_direct_computation(
    session_factory: sessionmaker[Session],
    clock: FakeClock,
    network: Network,
    update_latest: bool,
) -> None:
    rng = random.Random(3)
    start = clock.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    readings: list[tuple[int, datetime, float]] = []
    for ds in network.ds_ids:
        for k in range(400):
            t = start + timedelta(seconds=rng.randint(0, 3 * 3600 - 1), microseconds=k)
            readings.append((ds, t, round(rng.uniform(-5, 50), 3)))
    half = len(readings) // 2
    # Two batches with a rollup between them: the second fold merges into existing buckets.
    for part in (readings[:half], readings[half:]):
        with session_factory() as s, s.begin():
            service.ingest(
                session=s,
                readings=[[d, t.isoformat(), v] for d, t, v in part],
                clock=clock,
                update_latest=update_latest,
            )
        assert _fold(session_factory, fold_latest=not update_latest) > 0
    assert _fold(session_factory) == 0  # nothing new past the watermark

    stored = {(d, t): v for d, t, v in readings}  # (ds, t) is unique by construction
    for agg, width in (("1m", 60), ("1h", 3600)):
        expected: dict[tuple[int, datetime], list[float]] = {}
        for (d, t), v in stored.items():
            epoch = int(t.timestamp()) // width * width
            expected.setdefault((d, datetime.fromtimestamp(epoch, UTC)), []).append(v)
        with session_factory() as s:
            got = {}
            for ds in network.ds_ids:
                for p in timeseries.observations(
                    session=s,
                    datastream_id=ds,
                    start=start,
                    end=start + timedelta(hours=4),
                    agg=agg,  # type: ignore[arg-type]
                ):
                    got[(ds, p["time"])] = p
        assert set(got) == set(expected)
        for key, values in expected.items():
            p = got[key]
            assert p["count"] == len(values)
            assert p["min"] == min(values) and p["max"] == max(values)
            assert p["mean"] == pytest.approx(statistics.fmean(values))

    # The latest value is the newest reading, whether ingest or the rollup set it.
    newest = max((t, v) for (d, t), v in stored.items() if d == network.ds_ids[0])
    with session_factory() as s:
        rows = timeseries.latest_in_bbox(
            session=s, min_lng=106.0, min_lat=29.0, max_lng=107.0, max_lat=30.0
        )
    by_id = {r["datastream_id"]: r for r in rows}
    assert by_id[network.ds_ids[0]]["phenomenon_time"] == newest[0]
    assert by_id[network.ds_ids[0]]["result"] == newest[1]


def test_raw_range_is_half_open_and_ordered(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    ds = network.ds_ids[0]
    t0 = clock.now() - timedelta(minutes=10)
    _put(
        session_factory,
        clock,
        [[ds, (t0 + timedelta(minutes=m)).isoformat(), m] for m in range(5)][::-1],
    )
    with session_factory() as s:
        points = timeseries.observations(
            session=s,
            datastream_id=ds,
            start=t0 + timedelta(minutes=1),
            end=t0 + timedelta(minutes=3),
        )
    assert [p["result"] for p in points] == [1.0, 2.0]
    assert points[0]["time"] == t0 + timedelta(minutes=1)


def test_latest_in_bbox_only_returns_streams_inside(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    # Things sit at (29.5, 106.5), (29.6, 106.6), (29.7, 106.7).
    _put(session_factory, clock, [[d, clock.now().isoformat(), 1.0] for d in network.ds_ids])
    with session_factory() as s:
        rows = timeseries.latest_in_bbox(
            session=s, min_lng=106.55, min_lat=29.55, max_lng=106.65, max_lat=29.65
        )
    assert [r["datastream_id"] for r in rows] == [network.ds_ids[1]]
    assert rows[0]["result"] == 1.0


def test_retention_drops_old_raw_rows_and_aggregates(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    ds = network.ds_ids[0]
    old = clock.now() - timedelta(days=6)
    _put(session_factory, clock, [[ds, old.isoformat(), 1.0], [ds, clock.now().isoformat(), 2.0]])
    _fold(session_factory)
    settings = Settings(sensing_raw_days=3, sensing_agg_1m_days=3, sensing_max_past_days=1)
    later = clock.now() + timedelta(hours=1)
    with session_factory() as s, s.begin():
        purged = timeseries.purge(session=s, now=later, settings=settings)
    assert purged.agg_1m == 1
    with session_factory() as s:
        times = s.scalars(select(Stored.phenomenon_time)).all()
        assert times == [clock.now()]
        minutes = timeseries.buckets(
            session=s,
            datastream_ids=[ds],
            width=60_000_000,
            start=old - timedelta(days=1),
            end=later,
        )
        assert [v[0] for v in minutes.values()] == [1]  # the recent reading's minute only
    if purged.partitions_dropped:  # PostgreSQL drops the whole day's partition
        # (and any older day's an earlier test on the shared database left behind)
        cut = timeseries.partition_name((later - timedelta(days=3)).date())
        assert timeseries.partition_name(old.date()) in purged.partitions_dropped
        assert all(name < cut for name in purged.partitions_dropped)
    else:
        assert purged.raw == 1
    # A day dropped can be written again (its partition comes back on demand).
    with session_factory() as s, s.begin():
        res = service.ingest(
            session=s,
            readings=[[ds, old.isoformat(), 3.0]],
            clock=FakeClock(old + timedelta(hours=1)),
        )
    assert res.stored == 1


def test_latest_non_numeric_values_come_back_as_sent(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    from cityops.sensing import entities
    from cityops.sensing.models import Datastream, ObservationType

    with session_factory() as s, s.begin():
        first = s.get(Datastream, network.ds_ids[0])
        assert first is not None
        category = entities.create(
            session=s,
            model=Datastream,
            values={
                "name": "cover state",
                "unit_of_measurement": {},
                "observation_type": ObservationType.category.value,
                "thing_id": first.thing_id,
                "sensor_id": first.sensor_id,
                "observed_property_id": first.observed_property_id,
            },
        )
    now = clock.now().isoformat()
    _put(session_factory, clock, [[category.id, now, "open"], [network.truth_id, now, False]])
    with session_factory() as s:
        rows = timeseries.latest_in_bbox(
            session=s, min_lng=106.4, min_lat=29.4, max_lng=106.6, max_lat=29.6
        )
    by_id = {r["datastream_id"]: r["result"] for r in rows}
    assert by_id[category.id] == "open"
    assert by_id[network.truth_id] is False


def test_the_door_folds_its_batch_into_the_aggregates_on_sqlite_and_the_rollup_on_postgres(
    session_factory: sessionmaker[Session], clock: FakeClock, network: Network
) -> None:
    ds = network.ds_ids[0]
    t0 = clock.now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    raws = [[ds, (t0 + timedelta(seconds=10 * k)).isoformat(), float(k)] for k in range(12)]
    result = door.take_in(
        sessions=session_factory, clock=clock, settings=Settings(), raws=raws, source="test"
    )
    assert result.stored == 12
    with session_factory() as s:
        pg = timeseries.is_pg(s)
    folded_later = _fold(session_factory)
    assert folded_later == (12 if pg else 0)  # on SQLite the door's transaction folded them
    with session_factory() as s:
        minutes = timeseries.observations(
            session=s, datastream_id=ds, start=t0, end=t0 + timedelta(minutes=2), agg="1m"
        )
    assert [(p["count"], p["min"], p["max"]) for p in minutes] == [(6, 0.0, 5.0), (6, 6.0, 11.0)]

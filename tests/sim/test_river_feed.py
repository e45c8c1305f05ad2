"""The live river feed: door batches for given stations, and the 临江河 discharge passing by."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.bus.memory import MemoryBus
from cityops.clock import FakeClock
from cityops.sensing import entities
from cityops.sensing.models import Datastream, ObservedProperty, Sensor, Thing
from cityops.sensing.recent import READ_MODEL as Stored
from cityops.settings import Settings
from cityops.sim.device_sinks import InProcessSink
from cityops.sim.devices import Readings
from cityops.sim.river_faults import FaultParams
from cityops.sim.river_feed import LINJIANG, linjiang_discharge, readings_of, river_runner
from cityops.sim.river_series import SeriesConfig, generate
from cityops.sim.river_spec import PROPERTIES, UNITS, StationSpec
from cityops.store.engine import transaction

NOW = datetime(2026, 7, 10, 9, 30, tzinfo=UTC)
CLEAN = SeriesConfig(faults=FaultParams.none())


def spec(i: int, km: float, river: str = LINJIANG) -> StationSpec:
    streams = {p: 100 * (i + 1) + j for j, p in enumerate(PROPERTIES)}
    return StationSpec(f"{river}-S{i}", river, km, "III", datastreams=streams)


LINE = [spec(0, 3.0), spec(1, 10.0), spec(2, 25.0), spec(3, 50.0)]


class Recorder:
    """A sink that keeps what it is given."""

    def __init__(self) -> None:
        self.batches: list[Readings] = []

    def publish(self, readings: Readings) -> int:
        self.batches.append(readings)
        return len(readings)

    def close(self) -> None:
        return None

    def by_stream(self) -> dict[int, dict[float, float]]:
        out: dict[int, dict[float, float]] = defaultdict(dict)
        for ds, t, v in Readings.concat(self.batches).rows():
            out[ds][t] = v
        return out


def test_readings_of_a_series_are_door_rows_in_time_order_without_gaps() -> None:
    partial = StationSpec("P-1", "P", 2.0, datastreams={"ph": 7, "do": 8})
    run = generate([LINE[0], partial], start=NOW, hours=5, seed=1, config=CLEAN)
    run.values[0, 1, 2] = np.nan  # a missing DO reading
    readings = readings_of(run, 1, 4)
    assert len(readings) == 3 * (len(PROPERTIES) + 2) - 1
    assert np.all(np.diff(readings.time) >= 0)
    assert set(readings.time.tolist()) == {float(t) for t in run.times[1:4]}
    assert set(readings.datastream.tolist()) == set(LINE[0].datastreams.values()) | {7, 8}
    ds, t, v = readings.rows()[0]
    assert isinstance(ds, int) and isinstance(t, float) and isinstance(v, float)
    assert v == round(v, 4)


def test_the_scripted_discharge_starts_just_below_the_uppermost_linjiang_station() -> None:
    d = linjiang_discharge([LINE[2], LINE[0], LINE[1], spec(9, 1.0, "CJ")], NOW)
    assert d is not None and d.river_code == LINJIANG == "LJH"
    assert LINE[0].km < d.km < LINE[1].km
    assert linjiang_discharge([spec(9, 1.0, "CJ")], NOW) is None


def play(incident: bool, steps: int, step: timedelta) -> tuple[Recorder, FakeClock, datetime]:
    clock = FakeClock(NOW)
    sink = Recorder()
    runner = river_runner(
        LINE,
        sink,
        clock,
        seed=4,
        hour_seconds=5.0,
        backfill=timedelta(hours=48),
        incident_after=timedelta(hours=6) if incident else None,
        config=CLEAN,
    )
    for _ in range(steps):
        clock.advance(step)
        runner.step()
        assert runner.sim.current_time() <= clock.now()  # never ahead of the clock
    return sink, clock, runner.sim.origin


def test_the_live_feed_plays_fast_to_now_and_the_discharge_passes_downstream() -> None:
    step = timedelta(seconds=20)  # four simulated hours a step
    feed, clock, origin = play(True, 20, step)
    quiet, _, _ = play(False, 20, step)
    assert len(feed.batches) > 10 and all(len(b) for b in feed.batches)
    last = Readings.concat(feed.batches).time.max()
    assert last == float(int(clock.now().timestamp()) // 3600 * 3600)  # caught up with the clock
    hours = 48 + 1  # the backfill and the hour now
    assert len(Readings.concat(feed.batches)) == hours * len(LINE) * len(PROPERTIES)
    got, base = feed.by_stream(), quiet.by_stream()
    start = origin.timestamp() + 6 * 3600
    first_seen = []
    for s in LINE:
        ds = s.datastreams["nh3n"]
        moved = sorted(t for t in got[ds] if abs(got[ds][t] - base[ds][t]) > 0.3)
        first_seen.append(moved[0] if moved else None)
        if moved:
            assert moved[0] >= start
    assert first_seen[0] is None  # upstream of the outfall: untouched
    assert None not in first_seen[1:]
    assert first_seen[1:] == sorted(first_seen[1:]) and len(set(first_seen[1:])) == 3
    # and afterwards the river is as it would have been: back to normal
    for s in LINE:
        for p in ("nh3n", "cod", "do", "conductivity"):
            ds = s.datastreams[p]
            tail = [t for t in got[ds] if t >= origin.timestamp() + 40 * 3600]
            assert tail and all(abs(got[ds][t] - base[ds][t]) < 1e-3 for t in tail), (s.code, p)


def test_a_discharge_triggered_while_running_leaves_the_hours_sent_as_they_were() -> None:
    clock = FakeClock(NOW)
    sink = Recorder()
    runner = river_runner(
        LINE, sink, clock, seed=4, backfill=timedelta(hours=24), incident_after=None
    )
    clock.advance(timedelta(seconds=30))
    runner.step()
    before = sink.by_stream()
    d = linjiang_discharge(LINE, runner.sim.current_time() + timedelta(hours=1))
    assert d is not None
    runner.sim.trigger(d)
    clock.advance(timedelta(seconds=60))
    runner.step()
    after = sink.by_stream()
    sent = {(ds, t) for ds, row in before.items() for t in row}
    assert sent and all(after[ds][t] == before[ds][t] for ds, t in sent)
    assert any(k[1] == LINE[1].code for k in runner.sim.labels)


def _datastreams(session: Session, code: str) -> dict[str, int]:
    sensor = entities.create(session=session, model=Sensor, values={"name": "water analyser"})
    thing = entities.create(
        session=session, model=Thing, values={"name": code, "properties": {"river_station": code}}
    )
    out = {}
    for p in PROPERTIES:
        prop = entities.create(
            session=session, model=ObservedProperty, values={"name": p, "definition": p}
        )
        ds = entities.create(
            session=session,
            model=Datastream,
            values={
                "name": f"{code} {p}",
                "unit_of_measurement": {"name": p, "symbol": UNITS[p], "definition": ""},
                "thing_id": thing.id,
                "sensor_id": sensor.id,
                "observed_property_id": prop.id,
            },
        )
        out[p] = ds.id
    return out


def test_the_feed_is_taken_in_by_the_sensing_door(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        streams = _datastreams(session, "LJH-001-S1")
    clock = FakeClock(NOW)
    station = StationSpec("LJH-001-S1", LINJIANG, 5.0, datastreams=streams)
    sink = InProcessSink(
        sessions=session_factory, clock=clock, bus=MemoryBus(), settings=Settings()
    )
    runner = river_runner(
        [station], sink, clock, seed=2, backfill=timedelta(hours=6), incident_after=None
    )
    clock.advance(timedelta(seconds=60))
    sent = runner.step()
    assert sent > 6 * len(PROPERTIES) * 0.9
    assert sink.stats.rejected == 0 and sink.stats.stored == sent
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Stored)) == sent
        ds = session.get(Datastream, streams["do"])
        assert ds is not None and ds.latest_phenomenon_time is not None
        assert ds.latest_phenomenon_time <= clock.now()

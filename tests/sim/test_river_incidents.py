"""Discharges travel downstream (later, weaker, longer) and are labelled where they show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from cityops.sim.river_faults import FaultParams
from cityops.sim.river_incidents import PROFILES, Discharge, random_discharges
from cityops.sim.river_series import RiverSeries, SeriesConfig, generate, labelled_run
from cityops.sim.river_spec import INDEX, StationSpec

START = datetime(2026, 5, 1, tzinfo=UTC)
CLEAN = SeriesConfig(faults=FaultParams.none())
LINE = [StationSpec(f"LJH-S{i}", "LJH", km) for i, km in enumerate((4.0, 12.0, 25.0, 45.0, 70.0))]
OTHER = StationSpec("HXH-S1", "HXH", 20.0)
AT = START + timedelta(days=2, hours=3)


def pair(
    discharge: Discharge, stations: list[StationSpec], hours: int = 24 * 8, seed: int = 3
) -> tuple[RiverSeries, RiverSeries]:
    """The same seed with and without the discharge."""
    base = generate(stations, start=START, hours=hours, seed=seed, config=CLEAN)
    hit = generate(
        stations, start=START, hours=hours, seed=seed, config=CLEAN, discharges=[discharge]
    )
    return base, hit


def test_a_discharge_reaches_downstream_stations_later_weaker_and_longer() -> None:
    d = Discharge("LJH", 8.0, AT, hours=4, strength=1.0, velocity_ms=0.5)
    base, hit = pair(d, [*LINE, OTHER])
    diff = hit.values - base.values
    j = INDEX["conductivity"]  # conservative: only dilution and dispersion act on it
    assert np.abs(diff[0]).max() == 0  # upstream of the outfall
    assert np.abs(diff[5]).max() == 0  # another river
    arrivals, peaks, widths = [], [], []
    for i in range(1, 5):
        signal = diff[i, j]
        peak = float(signal.max())
        above = np.flatnonzero(signal >= peak / 2)
        arrivals.append(int(above[0]))
        peaks.append(peak)
        widths.append(int(above[-1] - above[0] + 1))
    assert arrivals == sorted(arrivals) and len(set(arrivals)) == 4
    assert peaks == sorted(peaks, reverse=True)
    assert widths[-1] > widths[0]
    # travel time: km / velocity
    expected = (70.0 - 8.0) * 1000 / 0.5 / 3600
    front = arrivals[-1] - (AT - START) / timedelta(hours=1)
    assert front == pytest.approx(expected, abs=4)
    # domestic sewage: NH3-N up, DO and ORP down at the first station
    peak_at = int(np.argmax(diff[1, INDEX["nh3n"]]))
    assert diff[1, INDEX["nh3n"], peak_at] > 1.0
    assert diff[1, INDEX["do"], peak_at] < -0.5 and diff[1, INDEX["orp"], peak_at] < -30
    assert diff[1, INDEX["transparency"], peak_at] < 0
    assert (diff[:, :, : int((AT - START) / timedelta(hours=1)) - 3] == 0).all()


def test_labels_cover_exactly_the_hours_the_signal_stands_out_of_the_noise() -> None:
    d = Discharge("LJH", 8.0, AT, hours=6, strength=0.6, profile="industrial", name="x1")
    base, hit = pair(d, [*LINE, OTHER])
    diff = np.abs(hit.values - base.values)
    rows = [INDEX[k] for k in PROFILES["industrial"].increments]
    labelled = {x.station: x for x in hit.labels}
    assert labelled and all(x.incident == "x1" for x in hit.labels)
    assert base.labels == ()
    for i, s in enumerate(hit.stations):
        standing = (diff[i, rows] >= 3 * hit.sigma[i, rows][:, None] * 0.999).any(axis=0)
        hours = np.flatnonzero(standing)
        if s.code not in labelled:
            assert hours.size == 0, s.code
            continue
        label = labelled[s.code]
        first = int((label.start - START) / timedelta(hours=1))
        last = int((label.end - START) / timedelta(hours=1))
        assert (hours[0], hours[-1]) == (first, last)
        assert label.magnitude >= 3 and label.peaks["conductivity"] > 0
        assert label.rain == bool(hit.rain_flag[i, first : last + 1].any())
    reached = [s.code for s in LINE if s.code in labelled]
    assert reached == [s.code for s in LINE[1 : 1 + len(reached)]]  # the nearest ones, in order
    starts = [labelled[c].start for c in reached]
    assert starts == sorted(starts)


def test_a_discharge_in_a_storm_is_labelled_as_in_the_rain_and_diluted() -> None:
    probe = generate(LINE, start=START, hours=24 * 60, seed=12, config=CLEAN)
    i = 1
    flow = probe.prop("flow")[i]
    storm = int(np.argmax(flow))  # the storm's flood peak at the first station below
    dry_at = int(np.flatnonzero(~probe.rain_flag[i, 48 : storm - 72])[0]) + 48
    results = {}
    for name, hour in (("storm", storm - 1), ("dry", dry_at)):
        d = Discharge("LJH", 10.0, START + timedelta(hours=hour), 2, velocity_ms=1.0, name=name)
        base, hit = pair(d, LINE, hours=24 * 60, seed=12)
        label = next(x for x in hit.labels if x.station == LINE[i].code)
        results[name] = (label, float((hit.values - base.values)[i, INDEX["conductivity"]].max()))
    assert results["storm"][0].rain and not results["dry"][0].rain
    assert results["storm"][1] < results["dry"][1]  # more water, more dilution


def test_random_discharges_and_the_labelled_run_for_the_benchmark() -> None:
    group = [*LINE, OTHER]
    found = random_discharges(group, START, 24 * 60, seed=5, per_station_month=1.0)
    again = random_discharges(group, START, 24 * 60, seed=5, per_station_month=1.0)
    assert found == again and 5 <= len(found) <= 20
    assert {d.river_code for d in found} <= {"LJH", "HXH"}
    run = labelled_run(group, start=START, days=30, seed=5, per_station_month=0.5)
    assert set(run.series) == {s.code for s in group}
    assert run.times.shape == (24 * 30,) and run.series["LJH-S1"]["nh3n"].shape == (24 * 30,)
    assert run.rain["LJH-S1"].shape == (24 * 30,) and run.rain["LJH-S1"].dtype == bool
    assert run.labels and {x.incident for x in run.labels} <= {d.key for d in run.discharges}
    end = START + timedelta(days=30)
    assert all(START <= x.start <= x.end < end for x in run.labels)
    assert len(run.faults) > 0 and run.stations[int(run.faults.station[0])] in run.series


def test_a_bad_discharge_is_refused() -> None:
    with pytest.raises(ValueError, match="profile"):
        Discharge("LJH", 1.0, START, 2, profile="mystery")
    with pytest.raises(ValueError, match="positive"):
        Discharge("LJH", 1.0, START, 0)

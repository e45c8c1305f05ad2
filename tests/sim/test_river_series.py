"""River station series: deterministic, physical, by target class, diurnal, rainy, faulty."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from cityops.scenarios.river.evaluate import section_class
from cityops.scenarios.river.standards import STANDARD, WaterBody
from cityops.sim.river_faults import FaultKind, FaultParams
from cityops.sim.river_series import SeriesConfig, generate, generate_chunks
from cityops.sim.river_spec import HIGH, INDEX, LOW, PROPERTIES, StationSpec

START = datetime(2026, 6, 1, tzinfo=UTC)
CLEAN = SeriesConfig(faults=FaultParams.none())
COUNTED = ("do", "codmn", "cod", "bod5", "nh3n", "tp")


def stations(n: int, target: str = "III", rivers: int = 3) -> list[StationSpec]:
    return [
        StationSpec(f"S{i:03d}", f"R{i % rivers}", 5.0 + 7 * (i // rivers), target)
        for i in range(n)
    ]


def local_hours(times: np.ndarray) -> np.ndarray:
    return ((times // 3600 + 8) % 24).astype(int)


def test_the_same_seed_gives_the_same_series_however_the_stations_are_chunked() -> None:
    group = stations(12)
    one = generate(group, start=START, hours=96, seed=4)
    again = generate(group, start=START, hours=96, seed=4)
    parts = list(generate_chunks(group, start=START, hours=96, seed=4, chunk=5))
    other = generate(group, start=START, hours=96, seed=5)
    assert np.array_equal(one.values, again.values, equal_nan=True)
    assert np.array_equal(one.values, np.concatenate([p.values for p in parts]), equal_nan=True)
    assert np.array_equal(one.rain_flag, np.concatenate([p.rain_flag for p in parts]))
    assert not np.array_equal(one.values, other.values, equal_nan=True)
    # a station's character does not depend on its company
    alone = generate(group[7:8], start=START, hours=96, seed=4)
    assert np.array_equal(alone.values[0], one.values[7], equal_nan=True)


def test_windows_of_a_long_run_agree_where_they_overlap() -> None:
    group = stations(6)
    whole = generate(group, start=START, hours=24 * 80, seed=4, config=CLEAN)
    later = START + timedelta(hours=24 * 45 + 7)
    part = generate(group, start=later, hours=24 * 30, seed=4, config=CLEAN)
    first = 24 * 45 + 7
    assert np.array_equal(part.values, whole.values[:, :, first : first + 24 * 30])
    assert np.array_equal(part.rain_flag, whole.rain_flag[:, first : first + 24 * 30])
    assert part.prop("rainfall").max() > 1  # storms included


def test_every_reported_value_is_inside_its_physical_range() -> None:
    run = generate(stations(30), start=START, hours=24 * 60, seed=1)  # faults on
    for j, p in enumerate(PROPERTIES):
        v = run.values[:, j]
        seen = v[np.isfinite(v)]
        assert seen.size > 0.9 * v.size, p
        assert seen.min() >= LOW[j] and seen.max() <= HIGH[j], p
    assert LOW[INDEX["ph"]] == STANDARD.items["ph"].min
    assert HIGH[INDEX["do"]] == STANDARD.items["do"].max


@pytest.mark.parametrize(
    ("target", "allowed"), [("I", {1, 2}), ("II", {1, 2}), ("III", {2, 3}), ("IV", {3, 4})]
)
def test_a_section_mostly_sits_at_or_just_above_its_target_class(
    target: str, allowed: set[int]
) -> None:
    run = generate(stations(20, target), start=START, hours=24 * 30, seed=2, config=CLEAN)
    days: Counter[int] = Counter()
    for i in range(20):
        for d in range(30):
            day = slice(d * 24, (d + 1) * 24)
            values = {k: float(run.values[i, INDEX[k], day].mean()) for k in COUNTED}
            days[section_class(values=values, water_body=WaterBody.river)] += 1
    share = sum(days[c] for c in allowed) / sum(days.values())
    assert share >= 0.85, days
    assert sum(n for c, n in days.items() if c > max(allowed)) <= 0.1 * sum(days.values())


def test_lakes_are_given_lake_phosphorus() -> None:
    lake = [StationSpec(f"L{i}", "LAKE", 1.0 + i, "III", WaterBody.lake) for i in range(10)]
    river = [StationSpec(f"L{i}", "RIV", 1.0 + i, "III") for i in range(10)]
    tp_lake = generate(lake, start=START, hours=240, seed=3, config=CLEAN).prop("tp")
    tp_river = generate(river, start=START, hours=240, seed=3, config=CLEAN).prop("tp")
    assert np.median(tp_lake) <= STANDARD.items["tp"].lake_limits[2]  # type: ignore[index]
    assert np.median(tp_lake) < np.median(tp_river) / 2


def test_do_ph_and_orp_peak_in_the_afternoon() -> None:
    run = generate(stations(20), start=START, hours=24 * 20, seed=6, config=CLEAN)
    hour = local_hours(run.times)
    for p in ("do", "ph", "orp"):
        by_hour = [float(run.prop(p)[:, hour == h].mean()) for h in range(24)]
        assert 13 <= int(np.argmax(by_hour)) <= 17, (p, by_hour)
        assert int(np.argmin(by_hour)) in (0, 1, 2, 3, 4, 5, 23, 22, 21), (p, by_hour)


def test_rain_raises_flow_and_turbidity_after_a_lag_and_lowers_transparency() -> None:
    run = generate(stations(12), start=START, hours=24 * 90, seed=8, config=CLEAN)
    rain = run.prop("rainfall").astype(np.float64)
    assert rain.max() > 5  # there were storms
    turbid = run.prop("turbidity").astype(np.float64)
    lags = range(0, 49)
    corr = []
    for lag in lags:
        a = rain[:, : rain.shape[1] - lag] - rain.mean()
        b = turbid[:, lag:] - turbid.mean()
        corr.append(float((a * b).mean()))
    assert int(np.argmax(corr)) >= 2  # the river answers hours after the rain
    wet, dry = run.rain_flag, ~run.rain_flag
    assert wet.any() and dry.any()
    for p, up in (("turbidity", True), ("flow", True), ("tp", True), ("transparency", False)):
        v = run.prop(p)
        ratio = v[wet].mean() / v[dry].mean()
        assert (ratio > 1.2) if up else (ratio < 0.9), (p, ratio)


def test_faults_appear_at_about_their_rates_and_look_like_faults() -> None:
    faults = FaultParams(
        flat_rate=0.02, spike_rate=0.02, dropout_rate=0.05, loss_fraction=0.002, drift_share=0.2
    )
    n, days = 60, 60
    run = generate(
        stations(n), start=START, hours=24 * days, seed=9, config=SeriesConfig(faults=faults)
    )
    streams = n * len(PROPERTIES)
    f = run.faults
    assert f.count(FaultKind.flat) == pytest.approx(0.02 * streams * days, rel=0.15)
    assert f.count(FaultKind.spike) == pytest.approx(0.02 * streams * days, rel=0.15)
    assert f.count(FaultKind.dropout) == pytest.approx(0.05 * n * days, rel=0.3)
    nan_share = np.isnan(run.values).mean()
    assert nan_share > 0.002
    assert 0.05 * n <= f.count(FaultKind.drift) <= 0.4 * n
    # a flat line repeats one value; a dropout silences every property of its station
    for k in np.flatnonzero(f.kind == FaultKind.flat)[:50]:
        seg = run.values[f.station[k], f.prop[k], f.start[k] : f.end[k]]
        seg = seg[np.isfinite(seg)]
        assert seg.size == 0 or np.all(seg == seg[0])
    k = int(np.flatnonzero(f.kind == FaultKind.dropout)[0])
    assert np.isnan(run.values[f.station[k], :, f.start[k] : f.end[k]]).all()
    clean = generate(stations(n), start=START, hours=24 * days, seed=9, config=CLEAN)
    assert len(clean.faults) == 0 and not np.isnan(clean.values).any()

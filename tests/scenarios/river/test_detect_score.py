"""The detection benchmark's scoring on a tiny labelled run: the shipped river plans replayed on
simulated stations without a database, judged against the simulator's labels."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cityops.sim.river_faults import FaultParams
from cityops.sim.river_incidents import Discharge
from cityops.sim.river_rain import RainParams
from cityops.sim.river_replay import Firing, replay, river_plans
from cityops.sim.river_score import score
from cityops.sim.river_series import Labelled, SeriesConfig, labelled_run
from cityops.sim.river_spec import StationSpec
from cityops.sim.river_truth import detectable

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 8
# Dry weather and healthy probes: any firing is the discharge's or a false alarm of the plans.
CALM = SeriesConfig(rain=RainParams(storm_rate=0.0), faults=FaultParams.none())
STATIONS = [
    StationSpec("TR-S0", "TR", 6.0, "III"),
    StationSpec("TR-S1", "TR", 14.0, "III"),
    StationSpec("QT-S0", "QT", 6.0, "III"),  # another river: the discharge never reaches it
]
SPILL = Discharge("TR", 5.0, START + timedelta(days=5), hours=6, strength=2.0, name="spill")


def _runs() -> tuple[Labelled, Labelled]:
    run = labelled_run(STATIONS, start=START, days=DAYS, seed=3, config=CALM, discharges=[SPILL])
    twin = labelled_run(STATIONS, start=START, days=DAYS, seed=3, config=CALM, discharges=[])
    return run, twin


def test_an_obvious_discharge_is_detected_where_it_passes_and_a_quiet_station_stays_quiet() -> None:
    run, twin = _runs()
    plans = river_plans()
    firings = replay(run, STATIONS, plans)
    result = score(run, firings, plans, detectable=detectable(run, twin, STATIONS, plans))

    near = next(o for o in result.labels if o.label.station == "TR-S0")
    assert near.detected and near.detectable and "class" in near.reasons
    assert near.delay_h is not None and near.delay_h <= 6  # hours of data after the label start
    assert near.by is not None and near.by.startswith("river-")
    assert not [f for f in firings if f.station == "QT-S0"]
    assert not any(lb.station == "QT-S0" for lb in run.labels)
    s = result.summary()
    assert (s["incidents"], s["incidents_detected"]) == (1, 1)
    assert s["false_alarms"] == 0 and s["false_per_station_month"] == 0.0
    assert s["station_months"] == pytest.approx(3 * DAYS / 30, abs=0.05)


def test_a_firing_away_from_every_label_is_a_false_alarm_and_none_means_missed() -> None:
    run, _ = _runs()
    plans = river_plans()
    label = next(lb for lb in run.labels if lb.station == "TR-S0")
    stray = Firing("river-black-odorous", "QT-S0", START.timestamp() + 3600, None, False)
    early = Firing("river-class-drop", "TR-S0", (label.start - timedelta(days=2)).timestamp(),
                   None, False)  # fmt: skip
    result = score(run, [stray, early], plans)
    s = result.summary()
    assert s["false_alarms"] == 2 and s["fault_caused"] == 0  # no faults in this run
    assert s["by_plan"]["river-black-odorous"]["false"] == 1
    # The early firing's episode is still on at the label's start, but it began days before:
    # the label is not detected by it.
    assert not next(o for o in result.labels if o.label.station == "TR-S0").detected
    # A firing inside the label is a detection with its delay, and no false alarm.
    inside = replace(stray, station="TR-S0", at=label.start.timestamp() + 7200)
    hit = score(run, [inside], plans)
    near = next(o for o in hit.labels if o.label.station == "TR-S0")
    assert near.detected and near.delay_h == pytest.approx(2.0)
    assert hit.false_alarms == 0

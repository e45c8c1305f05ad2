"""Device simulator (pure): determinism by seed, incidents crossing thresholds, faults, the fan."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from cityops.sim.device_kinds import load_kinds, parse_kinds
from cityops.sim.devices import Device, DeviceSimulator, Readings, SimConfig

START = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
QUIET = SimConfig(
    incident_rates={},
    flat_rate=0,
    spike_rate=0,
    offline_rate=0,
    loss_fraction=0,
)


def fleet(per_kind: int = 2) -> list[Device]:
    """``per_kind`` devices of every kind; gas detector i shares site ``tank<i>`` with fan i."""
    out: list[Device] = []
    n = 0
    for kind in load_kinds().kinds.values():
        for i in range(per_kind):
            streams = {}
            for p in kind.properties:
                n += 1
                streams[p.key] = n
            site = f"tank{i}" if kind.key in ("gas_detector", "exhaust_fan") else f"{kind.key}{i}"
            tags = ("guanyinqiao",) if kind.key == "crowd_counter" and i == 1 else ()
            out.append(Device(f"{kind.key}:{i}", kind.key, site, streams, thing_id=n, tags=tags))
    return out


def series(r: Readings, ds: int) -> np.ndarray:
    return r.result[r.datastream == ds]


def stream(devices: list[Device], key: str, prop: str) -> int:
    return next(d for d in devices if d.key == key).datastreams[prop]


def test_kinds_load_and_a_bad_kind_is_reported_not_fatal() -> None:
    cat = load_kinds()
    assert cat.errors == []
    assert {
        "gas_detector",
        "exhaust_fan",
        "manhole_cover",
        "bridge_monitor",
        "crowd_counter",
    } <= set(cat.kinds)
    assert cat.kinds["gas_detector"].prop("h2s").unit()["symbol"] == "mg/m3"  # as the plans
    good = cat.kinds["rain_gauge"].model_dump()
    bad = dict(good, key="broken", interval=90)  # not a multiple of the 60 s tick
    parsed = parse_kinds({"kinds": [bad, good]})
    assert list(parsed.kinds) == ["rain_gauge"]
    assert len(parsed.errors) == 1 and "broken" in parsed.errors[0]


def test_same_seed_same_readings_however_time_is_cut() -> None:
    devices = fleet()
    one = DeviceSimulator(devices, start=START, seed=3).advance(START + timedelta(hours=12))
    sim = DeviceSimulator(devices, start=START, seed=3)
    parts = [sim.advance(START + timedelta(minutes=m)) for m in (7, 95, 300, 720)]
    cut = Readings.concat(parts)
    assert len(one) > 5000
    assert np.array_equal(one.datastream, cut.datastream)
    assert np.array_equal(one.result, cut.result)
    other = DeviceSimulator(devices, start=START, seed=4).advance(START + timedelta(hours=12))
    assert not np.array_equal(one.result[:1000], other.result[:1000])


def test_readings_follow_each_kinds_interval_and_stay_in_range() -> None:
    devices = fleet(1)
    r = DeviceSimulator(devices, start=START, seed=1, config=QUIET).advance(
        START + timedelta(hours=2)
    )
    kinds = load_kinds().kinds
    for d in devices:
        kind = kinds[d.kind]
        for p in kind.properties:
            values = series(r, d.datastreams[p.key])
            assert len(values) == 2 * 3600 // kind.interval
            assert values.min() >= p.min and values.max() <= p.max
    pm10 = series(r, stream(devices, "dust_monitor:0", "pm10"))
    assert 30 < pm10.mean() < 120 and pm10.std() > 1  # noisy around the baseline


def test_gas_build_up_crosses_gb50493_levels_and_stays_up_without_the_fan() -> None:
    devices = fleet(1)
    sim = DeviceSimulator(devices, start=START, seed=5, config=QUIET)
    incident = sim.trigger("gas_buildup", "gas_detector:0")
    r = sim.advance(START + timedelta(minutes=incident.end - incident.start))
    ch4 = series(r, stream(devices, "gas_detector:0", "ch4"))
    h2s = series(r, stream(devices, "gas_detector:0", "h2s"))
    o2 = series(r, stream(devices, "gas_detector:0", "o2"))
    assert ch4.max() > 50  # level 2 (50 %LEL)
    assert h2s.max() > 20  # level 2, 20 mg/m³ (GB/T 50493)
    assert o2.min() < 19.5
    assert (ch4 > 25).sum() > 60  # minutes over level 1: more than an hour
    assert incident.end - incident.start >= 90


def test_the_fan_command_lowers_the_gas_and_is_reported() -> None:
    devices = fleet(1)
    sim = DeviceSimulator(devices, start=START, seed=5, config=QUIET)
    sim.trigger("gas_buildup", "gas_detector:0", extra={"fan_residual": 0.0})
    before = sim.advance(START + timedelta(minutes=60))
    ch4_ds = stream(devices, "gas_detector:0", "ch4")
    assert series(before, ch4_ds)[-1] > 50
    fan = sim.fan_for("gas_detector:0")
    assert fan == "exhaust_fan:0"
    assert sim.set_actuator(fan, True)
    after = sim.advance(START + timedelta(minutes=90))
    ch4 = series(after, ch4_ds)
    assert ch4[-1] < 10  # below level 1 and the yellow line within half an hour
    assert series(after, stream(devices, "exhaust_fan:0", "fan_on"))[-1] == 1.0
    assert series(before, stream(devices, "exhaust_fan:0", "fan_on")).max() == 0.0
    assert not sim.set_actuator("gas_detector:0", True)  # not an actuator


def test_a_strong_leak_stays_over_level_1_with_the_fan_on() -> None:
    """The seed's chain: the fan starts, and an hour later the gas is still too high."""
    devices = fleet(1)
    sim = DeviceSimulator(devices, start=START, seed=5, config=QUIET)
    incident = sim.trigger("gas_buildup", "gas_detector:0", extra={"fan_residual": 0.6})
    assert incident.end - incident.start >= 90
    sim.advance(START + timedelta(minutes=30))
    fan = sim.fan_for("gas_detector:0")
    assert fan is not None and sim.set_actuator(fan, True)
    hour = sim.advance(START + timedelta(minutes=90))
    ch4 = series(hour, stream(devices, "gas_detector:0", "ch4"))
    assert ch4[-1] > 25 and ch4[-1] < ch4[0]  # lower with the fan, not below level 1


def test_strong_leaks_come_at_their_configured_share() -> None:
    devices = fleet(1)
    sim = DeviceSimulator(devices, start=START, seed=11, config=QUIET)
    made = [
        sim.trigger("gas_buildup", "gas_detector:0", at=START + timedelta(hours=k))
        for k in range(400)
    ]
    strong = sum(1 for m in made if m.extra["fan_residual"] > 0) / len(made)
    assert 0.22 < strong < 0.38  # default share 0.3


@pytest.mark.parametrize(
    ("incident", "device", "prop", "check"),
    [
        ("cover_tilt", "manhole_cover:0", "tilt", lambda v: v.max() > 10),
        ("bridge_overload", "bridge_monitor:0", "deflection", lambda v: v.max() > 50),
        ("bridge_overload", "bridge_monitor:0", "strain", lambda v: v.max() > 400),
        ("crowd_surge", "crowd_counter:1", "density", lambda v: v.max() > 4),
        ("dust_event", "dust_monitor:0", "pm10", lambda v: v.max() > 200),
        ("water_pollution", "water_quality:0", "do", lambda v: v.min() < 2),
        ("water_pollution", "water_quality:0", "nh3n", lambda v: v.max() > 2),
        ("rain_storm", "rain_gauge:0", "rain", lambda v: v.max() > 15),
    ],
)
def test_incidents_cross_their_thresholds(incident: str, device: str, prop: str, check) -> None:  # type: ignore[no-untyped-def]
    devices = fleet(2)
    sim = DeviceSimulator(devices, start=START, seed=9, config=QUIET)
    base = series(sim.advance(START + timedelta(hours=1)), stream(devices, device, prop))
    assert not check(base)  # quiet before
    sim.trigger(incident, device)
    r = sim.advance(START + timedelta(hours=5))
    assert check(series(r, stream(devices, device, prop)))


def test_a_storm_rains_on_every_gauge_and_slopes_accelerate_after_it() -> None:
    devices = fleet(2)
    sim = DeviceSimulator(devices, start=START, seed=2, config=QUIET)
    sim.trigger("rain_storm", "rain_gauge:0")
    r = sim.advance(START + timedelta(hours=16))
    assert series(r, stream(devices, "rain_gauge:1", "rain")).max() > 10
    creeping = [e.device for e in sim.events if e.what == "slope_creep" and e.detail == "start"]
    assert creeping
    rate = series(r, stream(devices, creeping[0], "disp_rate"))
    disp = series(r, stream(devices, creeping[0], "displacement"))
    assert rate[:6].max() < 1 and rate.max() > 10  # mm/d: slow, then accelerating
    assert disp[-1] - disp[0] > 2  # the cumulative displacement grew


def test_faults_appear_flat_lines_spikes_and_offline_gaps() -> None:
    devices = fleet(2)
    noisy = replace(QUIET, flat_rate=2, spike_rate=5, offline_rate=2, flat_minutes=120)
    sim = DeviceSimulator(devices, start=START, seed=4, config=noisy)
    r = sim.advance(START + timedelta(days=2))
    kinds = {e.what for e in sim.events}
    assert {"fault:flat", "fault:spike", "fault:offline"} <= kinds
    flat = next(e for e in sim.events if e.what == "fault:flat" and "fan" not in e.device)
    values = series(r, stream(devices, flat.device, flat.detail))
    runs = np.diff(values) == 0
    assert runs.sum() >= 3  # repeated identical readings
    spike = next(e for e in sim.events if e.what == "fault:spike")
    spec = load_kinds().kinds[spike.device.split(":")[0]].prop(spike.detail)
    spiked = series(r, stream(devices, spike.device, spike.detail))
    assert np.abs(np.diff(spiked)).max() >= 0.3 * (spec.max - spec.min)
    off = next(e for e in sim.events if e.what == "fault:offline")
    device = next(d for d in devices if d.key == off.device)
    kind = load_kinds().kinds[device.kind]
    got = len(series(r, next(iter(device.datastreams.values()))))
    assert got < 2 * 86400 // kind.interval  # readings are missing


def test_incidents_happen_on_their_own_at_the_configured_rates() -> None:
    devices = fleet(3)
    config = replace(QUIET, incident_rates={"gas_buildup": 2.0, "crowd_surge": 3.0})
    sim = DeviceSimulator(devices, start=START, seed=8, config=config)
    sim.advance(START + timedelta(days=3))
    starts = [e for e in sim.events if e.detail == "start"]
    gas = [e for e in starts if e.what == "gas_buildup"]
    crowd = [e for e in starts if e.what == "crowd_surge"]
    assert 4 <= len(gas) <= 30  # ~18 expected (3 detectors × 2/day × 3 days, while not busy)
    assert crowd and all(e.device == "crowd_counter:1" for e in crowd)  # the 观音桥 one
    quiet = DeviceSimulator(devices, start=START, seed=8, config=QUIET)
    quiet.advance(START + timedelta(days=3))
    assert not [e for e in quiet.events if e.detail == "start"]

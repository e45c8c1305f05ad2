"""Hourly series for river monitoring stations (自动监测站): pure, seeded, vectorised numpy.

For each station and hour, the 15 observed properties of issue 6 (``river_spec.PROPERTIES``):

- **Baselines** follow the section's target class: a station draws a quality position in
  "class units" a little better than its target (a class-III section mostly sits in II–III),
  each GB 3838 item its own position around it, read off the item's limits in gb3838.yaml
  (TP from the lake row for lakes). TN sits about a class worse (it is not counted). pH,
  conductivity, turbidity and ORP get plausible river values (local defaults).
- **Diurnal**: DO and pH peak in the afternoon (photosynthesis, 14:00–16:00 local); ORP follows
  DO. **Seasonal** (optional): DO follows the oxygen saturation of a water temperature that
  peaks in summer, and the base flow is higher in the wet season.
- **Wander**: slow day-to-day variation (smoothly interpolated daily anchors).
- **Rain** (``river_rain``): the gauge reads the basin's storms; runoff raises flow, level,
  turbidity, TP, CODMn/COD (less BOD5, TN, NH3-N), dilutes conductivity, and through turbidity
  lowers transparency (never deeper than the water), after a lag and with a decay.
- **Discharges** (``river_incidents``) add their increments before the noise, and are labelled.
- **Noise**, **drift** and **faults** (``river_faults``) come last: white noise per reading,
  then values are kept in the physical ranges of ``river_spec.RANGES`` (gb3838.yaml's min/max
  where it has them), then flat lines, spikes, dropouts and lost readings (NaN).

Every random draw comes from a generator keyed by the seed, the station code (or basin) and,
for noise, wander and storms, a page of absolute time. So a station's series does not depend on
which other stations are generated with it (``generate_chunks`` gives the same numbers as one
``generate``), and two windows agree wherever they overlap (a live feed can generate block
after block without seams); only faults are drawn per window. Switching faults off leaves the
other numbers as they were. Arrays are float32, stations × properties × hours.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from cityops.scenarios.river.standards import STANDARD
from cityops.sim.river_faults import FaultParams, Faults, add_drift, add_faults
from cityops.sim.river_incidents import (
    Discharge,
    IncidentLabel,
    TransportParams,
    Window,
    apply_discharges,
    random_discharges,
)
from cityops.sim.river_rain import RainField, RainParams, rain_field
from cityops.sim.river_spec import HIGH, INDEX, LOW, PROPERTIES, FlowLine, StationSpec, key_of

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
P = len(PROPERTIES)
_LIMITED = ("do", "codmn", "cod", "bod5", "nh3n", "tp", "tn")

# Per property: white reading noise, day-to-day wander, relative to the baseline (True) or in
# the property's unit (False). Local defaults, typical of online analysers.
NOISE: dict[str, tuple[float, float, bool]] = {
    "ph": (0.03, 0.05, False),
    "do": (0.03, 0.05, True),
    "codmn": (0.05, 0.08, True),
    "cod": (0.05, 0.08, True),
    "bod5": (0.05, 0.08, True),
    "nh3n": (0.06, 0.10, True),
    "tp": (0.06, 0.10, True),
    "tn": (0.05, 0.08, True),
    "conductivity": (0.02, 0.04, True),
    "turbidity": (0.06, 0.15, True),
    "transparency": (0.05, 0.08, True),
    "orp": (8.0, 15.0, False),
    "water_level": (0.01, 0.02, False),
    "flow": (0.03, 0.10, True),
    "rainfall": (0.0, 0.0, False),
}
# Runoff response: value × (1 + gain × runoff index). Local defaults.
RUNOFF_GAIN = {
    "flow": 1.0,
    "turbidity": 3.0,
    "tp": 0.6,
    "codmn": 0.5,
    "cod": 0.5,
    "bod5": 0.2,
    "tn": 0.3,
    "nh3n": 0.15,
}
CONDUCTIVITY_DILUTION = 0.4  # at most this share lower in a flood
ORP_PER_DO = 20.0  # mV per mg/L of DO above or below the station's mean
SECCHI = (300.0, 0.7)  # transparency cm = a / (turbidity + 1) ** b, local default
DAY_PAGE = 64  # wander anchors (one a day) drawn at a time
NOISE_PAGE = 1024  # hours of reading noise drawn at a time


@dataclass(frozen=True, slots=True)
class SeriesConfig:
    rain: RainParams = field(default_factory=RainParams)
    faults: FaultParams = field(default_factory=FaultParams)
    transport: TransportParams = field(default_factory=TransportParams)
    seasonal: bool = True
    noise_scale: float = 1.0


@dataclass(frozen=True, slots=True)
class RiverSeries:
    """Hourly values (stations × properties × hours, float32, NaN: nothing reported), the rain
    flag (stations × hours), each station's noise per property, labels and faults."""

    stations: tuple[StationSpec, ...]
    window: Window
    values: F32
    rain_flag: NDArray[np.bool_]
    sigma: F32
    labels: tuple[IncidentLabel, ...]
    faults: Faults

    @property
    def times(self) -> NDArray[np.int64]:
        """Epoch seconds of each hour."""
        first = int(self.window.start.timestamp())
        return first + 3600 * np.arange(self.window.hours, dtype=np.int64)

    def index(self, code: str) -> int:
        return next(i for i, s in enumerate(self.stations) if s.code == code)

    def of(self, code: str) -> dict[str, F32]:
        """One station's series by property (views, not copies)."""
        row = self.values[self.index(code)]
        return {p: row[j] for j, p in enumerate(PROPERTIES)}

    def prop(self, name: str) -> F32:
        """One property for every station (stations × hours)."""
        return self.values[:, INDEX[name]]


def on_the_hour(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("the simulator needs an aware datetime")
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _level(q: float, limits: Sequence[float], higher: bool) -> float:
    """The concentration at quality position ``q`` (class units: (k−1, k] is class k).

    Where two classes share a limit (COD 15 for I and II) the better one is given the middle
    of the range below it, so a value never sits on the shared limit."""
    ys = [9.0 if higher else 0.4 * limits[0], *limits]  # class-I water: local default
    for k in range(1, 5):
        if ys[k] == ys[k + 1]:
            ys[k] = (ys[k - 1] + ys[k + 1]) / 2
    if q <= 5:
        return float(np.interp(q, np.arange(6), ys))
    return float(limits[4] * (1 - 0.25 * (q - 5) if higher else 1 + 0.5 * (q - 5)))


@dataclass(frozen=True, slots=True)
class _Static:
    mean: F32  # stations × properties
    do_amp: F64
    ph_amp: F64
    peak_hour: F64
    gauge: F64


def _static(stations: Sequence[StationSpec], seed: int, spread: tuple[float, float]) -> _Static:
    """Each station's character, from (seed, station code) alone."""
    mean = np.zeros((len(stations), P), np.float32)
    amps = np.zeros((len(stations), 4))
    lo, hi = spread
    for i, s in enumerate(stations):
        u = np.random.default_rng((seed, key_of(s.code))).random(18)
        q = max(0.2, s.target - 1.5 + u[0])
        offsets = {"do": -1.2 + 0.9 * u[1], "tn": 0.3 + u[2]}
        for n, k in enumerate(_LIMITED):
            item = STANDARD.items[k]
            qk = min(5.5, max(0.1, q + offsets.get(k, -0.8 + u[3 + n])))
            higher = item.direction == "higher"
            mean[i, INDEX[k]] = _level(qk, item.limits_for(s.water_body), higher)
        do = float(mean[i, INDEX["do"]])
        mean[i, INDEX["ph"]] = 7.3 + 0.8 * u[10]
        mean[i, INDEX["conductivity"]] = 200 + 60 * q + 200 * u[11]
        mean[i, INDEX["turbidity"]] = 3 + 3 * q + 8 * u[12]
        mean[i, INDEX["orp"]] = max(60.0, 180 + 40 * (do - 6) + 80 * u[13])
        mean[i, INDEX["flow"]] = s.flow
        mean[i, INDEX["water_level"]] = 0.6 * s.flow**0.25
        depth = mean[i, INDEX["water_level"]]
        mean[i, INDEX["transparency"]] = _secchi(mean[i, INDEX["turbidity"]], depth)
        peak = 14 + 2 * u[16]
        amps[i] = (do * (0.05 + 0.07 * u[14]), 0.05 + 0.15 * u[15], peak, lo + (hi - lo) * u[17])
    return _Static(mean, amps[:, 0], amps[:, 1], amps[:, 2], amps[:, 3])


def _secchi(turbidity: NDArray[np.floating] | float, depth_m: NDArray[np.floating] | float) -> F64:
    """Transparency (cm) from turbidity, never deeper than the water."""
    a, b = SECCHI
    turbid = np.asarray(turbidity, np.float64)
    out: F64 = np.minimum(a / (turbid + 1.0) ** b, np.asarray(depth_m, np.float64) * 100.0)
    return out


def _do_saturation(temp_c: F64) -> F64:
    """Oxygen solubility in fresh water (mg/L) at ``temp_c``, the usual cubic fit."""
    t = temp_c
    out: F64 = 14.652 - 0.41022 * t + 0.007991 * t**2 - 0.000077774 * t**3
    return out


def _sigma(mean: F32, scale: float) -> tuple[F32, F32]:
    """White noise and total noise (white with wander) per station and property."""
    white = np.zeros_like(mean)
    total = np.zeros_like(mean)
    for j, p in enumerate(PROPERTIES):
        w, d, rel = NOISE[p]
        base = mean[:, j] if rel else np.float32(1.0)
        white[:, j] = w * base * scale
        total[:, j] = math.hypot(w, d) * base * scale
    return white, total


def _paged(seed: int, code: str, stage: int, first: int, count: int, page: int) -> F32:
    """Standard normals for ``count`` steps from absolute step ``first``, drawn ``page`` steps
    at a time, so any window of a station's stream holds the same numbers."""
    pages = range(first // page, (first + count - 1) // page + 1)
    key = key_of(code)
    full = np.concatenate(
        [
            np.random.default_rng((seed, key, stage, k)).standard_normal((P, page), np.float32)
            for k in pages
        ],
        axis=1,
    )
    off = first - pages[0] * page
    return full[:, off : off + count]


def _wander(out: F32, stations: Sequence[StationSpec], seed: int, first_hour: int) -> None:
    """Smooth day-to-day standard-normal wander in every row of ``out``: one anchor a day
    (absolute days), cosine-interpolated between them."""
    hours = out.shape[2]
    epoch_h = first_hour + np.arange(hours)
    day = epoch_h // 24
    idx = day - day[0]
    s = ((1 - np.cos(math.pi * (epoch_h % 24) / 24.0)) / 2).astype(np.float32)
    for i, st in enumerate(stations):
        anchors = _paged(seed, st.code, 1, int(day[0]), int(idx[-1]) + 2, DAY_PAGE)
        out[i] = anchors[:, idx] * (1 - s) + anchors[:, idx + 1] * s


def _physics(out: F32, st: _Static, rain: RainField, epoch_h: F64, seasonal: bool) -> None:
    """Turn the wander rows of ``out`` into physical values (transparency and rain: later)."""
    r = rain.runoff
    mean = st.mean

    def rel(p: str) -> F32:
        return 1 + np.float32(NOISE[p][1]) * out[:, INDEX[p]]

    day = (epoch_h / 24.0) % 365.25
    local = (epoch_h + 8.0) % 24.0  # Asia/Shanghai
    wet = 1 + 0.4 * np.cos(2 * math.pi * (day - 200) / 365.25) if seasonal else 1.0
    temp = (
        18 + 8 * np.cos(2 * math.pi * (day - 210) / 365.25) if seasonal else np.full_like(day, 18)
    )
    sat = (_do_saturation(temp) / _do_saturation(np.array(18.0))).astype(np.float32)
    for p in ("codmn", "cod", "bod5", "nh3n", "tp", "tn", "turbidity"):
        out[:, INDEX[p]] = mean[:, INDEX[p], None] * rel(p) * (1 + RUNOFF_GAIN[p] * r)
    j = INDEX["conductivity"]
    out[:, j] = mean[:, j, None] * rel("conductivity") * (1 - CONDUCTIVITY_DILUTION * r / (1 + r))
    j = INDEX["flow"]
    q0 = mean[:, j, None]
    out[:, j] = np.maximum(q0 * wet * rel("flow") * (1 + RUNOFF_GAIN["flow"] * r), 0.01 * q0)
    j = INDEX["water_level"]
    w = np.float32(NOISE["water_level"][1]) * out[:, j]
    out[:, j] = mean[:, j, None] * (out[:, INDEX["flow"]] / q0) ** 0.6 + w
    cycle = np.cos(2 * math.pi * (local[None, :] - st.peak_hour[:, None]) / 24.0)
    j = INDEX["do"]
    do_mean = mean[:, j, None] * sat
    out[:, j] = do_mean * rel("do") + st.do_amp[:, None] * cycle
    k = INDEX["orp"]
    out[:, k] = mean[:, k, None] + NOISE["orp"][1] * out[:, k] + ORP_PER_DO * (out[:, j] - do_mean)
    j = INDEX["ph"]
    out[:, j] = mean[:, j, None] + NOISE["ph"][1] * out[:, j] + st.ph_amp[:, None] * cycle


def generate(
    stations: Sequence[StationSpec],
    *,
    start: datetime,
    hours: int,
    seed: int,
    config: SeriesConfig | None = None,
    discharges: Sequence[Discharge] = (),
    flowline: FlowLine | None = None,
) -> RiverSeries:
    """``hours`` hourly readings from ``start`` (floored to the hour) for ``stations``.

    Everything but the faults is a function of absolute time: two windows that overlap hold
    the same numbers where they do (faults are drawn per window). ``flowline``: the flows
    along the rivers when ``stations`` is a chunk of a larger set (a discharge is diluted
    from the flow at its outfall)."""
    cfg = config or SeriesConfig()
    if hours < 1:
        raise ValueError("hours must be ≥ 1")
    window = Window(on_the_hour(start), hours)
    stations = tuple(stations)
    first_hour = int(window.start.timestamp()) // 3600
    epoch_h = first_hour + np.arange(hours, dtype=np.float64)
    st = _static(stations, seed, cfg.rain.gauge_spread)
    rain = rain_field(stations, st.gauge, first_hour, hours, seed, cfg.rain)
    out = np.empty((len(stations), P, hours), np.float32)
    _wander(out, stations, seed, first_hour)
    _physics(out, st, rain, epoch_h, cfg.seasonal)
    white, sigma = _sigma(st.mean, cfg.noise_scale)
    labels = apply_discharges(
        discharges,
        stations,
        out,
        out[:, INDEX["flow"]],
        sigma,
        rain.flag,
        window,
        flowline or FlowLine(stations),
        cfg.transport,
    )
    j = INDEX["transparency"]
    turbid = out[:, INDEX["turbidity"]]
    clear = _secchi(turbid, out[:, INDEX["water_level"]])
    out[:, j] = clear * (1 + NOISE["transparency"][1] * out[:, j])
    out[:, INDEX["rainfall"]] = rain.rain
    rows: list[tuple[int, int, int, int, int]] = []
    lo, hi = LOW[:, None], HIGH[:, None]
    for i, s in enumerate(stations):
        out[i] += _paged(seed, s.code, 2, first_hour, hours, NOISE_PAGE) * white[i][:, None]
        drift = np.random.default_rng((seed, key_of(s.code), 4))  # a station's, for good
        add_drift(out, i, st.mean[i], epoch_h, drift, cfg.faults, rows)
        np.clip(out[i], lo, hi, out=out[i])
        faults = np.random.default_rng((seed, key_of(s.code), 3, first_hour))
        add_faults(out, i, sigma[i], LOW, HIGH, faults, cfg.faults, rows)
    return RiverSeries(stations, window, out, rain.flag, sigma, tuple(labels), Faults.build(rows))


def generate_chunks(
    stations: Sequence[StationSpec],
    *,
    start: datetime,
    hours: int,
    seed: int,
    config: SeriesConfig | None = None,
    discharges: Sequence[Discharge] = (),
    chunk: int = 100,
) -> Iterator[RiverSeries]:
    """``generate`` for ``chunk`` stations at a time (memory stays bounded): the same numbers."""
    flowline = FlowLine(stations)
    for i in range(0, len(stations), chunk):
        part = stations[i : i + chunk]
        yield generate(
            part,
            start=start,
            hours=hours,
            seed=seed,
            config=config,
            discharges=discharges,
            flowline=flowline,
        )


@dataclass(frozen=True, slots=True)
class Labelled:
    """Data for a detection benchmark: hour times (epoch s); per station, its series by property
    (NaN: missing) and its rain flag; the ground-truth labels and the discharges behind them;
    the sensor faults (``faults.station`` indexes ``stations``), to tell fault alarms apart;
    each station's noise σ per property (what a label's 3σ is measured in)."""

    times: NDArray[np.int64]
    series: dict[str, dict[str, F32]]
    labels: tuple[IncidentLabel, ...]
    rain: dict[str, NDArray[np.bool_]]
    discharges: tuple[Discharge, ...]
    stations: tuple[str, ...]
    faults: Faults
    sigma: dict[str, dict[str, float]] = field(default_factory=dict)


def labelled_run(
    stations: Sequence[StationSpec],
    *,
    start: datetime,
    days: int,
    seed: int,
    per_station_month: float = 0.2,
    config: SeriesConfig | None = None,
    discharges: Sequence[Discharge] | None = None,
) -> Labelled:
    """Random discharges (``per_station_month``) played over ``days`` with their labels; or
    the given ``discharges`` instead."""
    hours = days * 24
    found = (
        list(discharges)
        if discharges is not None
        else random_discharges(
            stations, on_the_hour(start), hours, seed=seed, per_station_month=per_station_month
        )
    )
    run = generate(stations, start=start, hours=hours, seed=seed, config=config, discharges=found)
    return Labelled(
        run.times,
        {s.code: run.of(s.code) for s in run.stations},
        run.labels,
        {s.code: run.rain_flag[i] for i, s in enumerate(run.stations)},
        tuple(found),
        tuple(s.code for s in run.stations),
        run.faults,
        {
            s.code: dict(zip(PROPERTIES, run.sigma[i].tolist(), strict=True))
            for i, s in enumerate(run.stations)
        },
    )

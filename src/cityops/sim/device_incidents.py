"""Incidents the device simulator plays: what each one does to its device's readings (pure).

Magnitudes are drawn so each incident crosses the levels in
/work/shared/reference/scenario-thresholds.md:

- gas build-up (§5, GB/T 50493-2019): CH4 level 1 25 %LEL / level 2 50 %LEL, peak 55–80 %LEL;
  H2S (in mg/m³, the unit of the limits and of the plans) level 1 10, level 2 20, 10 % IDLH 43,
  peak 45–62; O2 falls below 19.5 % (CJJ 6-2009). It stays up while the tank's exhaust fan
  is off and falls within minutes once the fan runs (time constants are parameters).
- manhole cover tilt (§7): tilt > 10° (vendor practice), often with the open/moved flag.
- bridge overload (§3): strain +350–600 µε and mid-span deflection above L/600 (STD?, the span
  is a parameter, default 30 m → 50 mm).
- crowd surge (§4): density 4.2–5.5 persons/m² (critical ~4, danger ≥ 5), flow 70–90.
- rain storm and slope creep (§2): 20–60 mm/h for 3–8 h on every rain gauge; chosen slopes
  accelerate (exponential rate growth, no absolute mm/d threshold exists: GAP) after a lag.
- dust (§6): hourly PM10 well above 150/200 µg/m³ (Wuhan practice) for 1–3 h.
- water pollution (§1): DO falls below 2 mg/L and NH3-N rises above 2.0 mg/L (worse than V).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

TICK_MIN = 1.0  # minutes per simulator tick


@dataclass(frozen=True, slots=True)
class IncidentParams:
    """Tunable numbers of the incidents (defaults as described in the module docstring)."""

    gas_rise_minutes: float = 20.0  # time constant of the build-up with the fan off
    gas_vent_minutes: float = 6.0  # time constant of the fall with the fan on
    gas_decay_minutes: float = 40.0  # natural fall after the source stops
    # A leak the fan cannot clear (the seed's "still over after an hour"): this share of
    # build-ups only falls to this fraction of its level while the fan runs.
    gas_strong_share: float = 0.3
    gas_strong_residual: float = 0.6
    bridge_span_m: float = 30.0  # deflection limit L/600 (STD?, JTG 3362-2018 recalled)
    slope_response_fraction: float = 0.5  # share of slope monitors a storm sets creeping
    slope_lag_hours: tuple[float, float] = (1.0, 3.0)


@dataclass(slots=True)
class Incident:
    """One running incident on one device; ``offsets`` says what it adds to each property."""

    kind: str
    device: int
    start: int  # tick
    end: int  # tick the source stops (the effect may fade out after it)
    peaks: dict[str, float]
    level: float = 0.0  # 0..1, for incidents with their own dynamics (gas)
    shape: tuple[float, float] = (10.0, 10.0)  # ramp up / ramp down, minutes
    done: bool = False
    extra: dict[str, float] = field(default_factory=dict)

    def offsets(self, tick: int, fan_on: bool, params: IncidentParams) -> dict[str, float]:
        """Advance one tick; the offsets to add to this tick's readings."""
        if self.kind == "gas_buildup":
            return self._gas(tick, fan_on, params)
        if self.kind == "slope_creep":
            return self._creep(tick)
        w = _trapezoid(tick - self.start, self.end - self.start, *self.shape)
        if tick >= self.end + self.shape[1]:
            self.done = True
        return {k: v * w for k, v in self.peaks.items()}

    def _gas(self, tick: int, fan_on: bool, params: IncidentParams) -> dict[str, float]:
        if fan_on:  # vents down to what the leak still feeds (0 once the source stops)
            floor = self.extra.get("fan_residual", 0.0) if tick < self.end else 0.0
            vent = math.exp(-TICK_MIN / params.gas_vent_minutes)
            self.level = floor + (self.level - floor) * vent if self.level > floor else self.level
        elif tick < self.end:
            self.level += (1.0 - self.level) * (1 - math.exp(-TICK_MIN / params.gas_rise_minutes))
        else:
            self.level *= math.exp(-TICK_MIN / params.gas_decay_minutes)
        if tick >= self.end and self.level < 0.01:
            self.done = True
        return {k: v * self.level for k, v in self.peaks.items()}

    def _creep(self, tick: int) -> dict[str, float]:
        """The rate grows exponentially to its peak while the rain lasts, then fades."""
        t, length = tick - self.start, self.end - self.start
        if t < 0:
            return {}
        a = 4.0 / max(length, 1)
        if t <= length:
            w = (math.exp(a * t) - 1) / (math.exp(a * length) - 1)
        else:
            w = math.exp(-(t - length) / self.shape[1])
            if w < 0.01:
                self.done = True
        return {k: v * w for k, v in self.peaks.items()}


def _trapezoid(t: float, hold: float, up: float, down: float) -> float:
    if t < 0:
        return 0.0
    if t < up:
        return t / up
    if t < hold:
        return 1.0
    return max(0.0, 1.0 - (t - hold) / down)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


# incident kind -> the device kind it happens on
INCIDENT_DEVICE = {
    "gas_buildup": "gas_detector",
    "cover_tilt": "manhole_cover",
    "bridge_overload": "bridge_monitor",
    "crowd_surge": "crowd_counter",
    "rain_storm": "rain_gauge",
    "slope_creep": "slope_monitor",
    "dust_event": "dust_monitor",
    "water_pollution": "water_quality",
}


def make(
    kind: str,
    device: int,
    tick: int,
    rng: np.random.Generator,
    params: IncidentParams,
    baselines: dict[str, float],
) -> Incident:
    """A new incident of ``kind`` on ``device`` starting at ``tick`` with drawn magnitudes."""
    if kind == "gas_buildup":
        peaks = {
            "ch4": _u(rng, 55, 80) - baselines.get("ch4", 0),
            "h2s": _u(rng, 45, 62) - baselines.get("h2s", 0),  # mg/m³, past the 43 red line
            "co": _u(rng, 15, 30),
            "o2": -_u(rng, 1.8, 3.0),
        }
        strong = rng.random() < params.gas_strong_share
        residual = params.gas_strong_residual if strong else 0.0
        end = tick + round(_u(rng, 90, 240))
        return Incident(kind, device, tick, end, peaks, extra={"fan_residual": residual})
    if kind == "cover_tilt":
        opened = 1.0 if rng.random() < 0.6 else 0.0
        peaks = {"tilt": _u(rng, 12, 35), "cover_open": opened}
        return Incident(kind, device, tick, tick + round(_u(rng, 30, 240)), peaks, shape=(1, 1))
    if kind == "bridge_overload":
        limit = params.bridge_span_m * 1000 / 600
        deflect = limit * _u(rng, 1.1, 1.5) - baselines.get("deflection", 0)
        peaks = {"strain": _u(rng, 350, 600), "deflection": deflect}
        return Incident(kind, device, tick, tick + round(_u(rng, 5, 20)), peaks, shape=(2, 2))
    if kind == "crowd_surge":
        peaks = {
            "density": _u(rng, 4.2, 5.5) - baselines.get("density", 0),
            "flow": _u(rng, 70, 90) - baselines.get("flow", 0),
        }
        return Incident(kind, device, tick, tick + round(_u(rng, 30, 90)), peaks, shape=(10, 10))
    if kind == "rain_storm":
        peaks = {"rain": _u(rng, 20, 60)}
        return Incident(kind, device, tick, tick + round(_u(rng, 180, 480)), peaks, shape=(30, 60))
    if kind == "slope_creep":
        peaks = {"disp_rate": _u(rng, 15, 40)}
        return Incident(kind, device, tick, tick + 360, peaks, shape=(0, 12 * 60))
    if kind == "dust_event":
        pm10 = _u(rng, 180, 350)
        peaks = {"pm10": pm10, "pm25": pm10 * 0.35}
        return Incident(kind, device, tick, tick + round(_u(rng, 60, 180)), peaks, shape=(10, 20))
    if kind == "water_pollution":
        peaks = {
            "do": -min(_u(rng, 4.5, 6.0), baselines.get("do", 7) - 0.3),
            "nh3n": _u(rng, 2.0, 4.0),
            "codmn": _u(rng, 8, 14),
            "tp": _u(rng, 0.3, 0.6),
            "turbidity": _u(rng, 40, 120),
            "ph": -_u(rng, 0.0, 0.6),
        }
        return Incident(kind, device, tick, tick + round(_u(rng, 120, 360)), peaks, shape=(20, 60))
    raise ValueError(f"unknown incident kind {kind!r}")

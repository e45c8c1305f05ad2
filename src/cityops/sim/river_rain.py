"""Rain over river basins and the runoff it drives (pure, seeded numpy).

Each basin gets storms at a seeded rate (more in the wet season): a bell of mm/h intensities
over a few hours. Storms are drawn per 30-day period of absolute time, so a window of any start
and length sees the same storms (and the tail of those that began before it). A station's
gauge reads its basin's rain times a fixed gauge factor. Runoff is that rain through a unit
hydrograph: a rise over ``lag`` hours (longer further downstream), then an exponential fall
over ``decay_hours``; the result, in units of ``reference_mm_h``, is the runoff index the
generator scales flow, turbidity, TP and COD with.

The rain flag marks hours when runoff may explain a change (detectors suppress alarms then):
at least ``flag_mm`` at the gauge within the last ``flag_hours``, or a runoff index above
``flag_runoff``. Every number here is a local default, none is from the reference."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cityops.sim.river_spec import StationSpec, key_of

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
_YEAR_H = 365.25 * 24
PERIOD_H = 720  # storms are drawn per 30 days of absolute time


@dataclass(frozen=True, slots=True)
class RainParams:
    storm_rate: float = 0.1  # storms per basin per day, yearly mean (~36 a year)
    wet_season: float = 0.6  # rate × (1 + this × cos(day of year − peak_day))
    peak_day: float = 190.0  # wettest around early July
    storm_hours: tuple[float, float] = (2.0, 10.0)
    peak_median: float = 8.0  # mm/h, log-normal median of a storm's peak intensity
    peak_sigma: float = 0.7
    peak_max: float = 80.0
    gauge_spread: tuple[float, float] = (0.7, 1.3)  # a gauge's share of its basin's rain
    lag_hours: float = 2.0  # runoff lag near the source
    lag_per_km: float = 0.05  # more lag per km downstream
    decay_hours: float = 12.0
    reference_mm_h: float = 2.0  # runoff index 1 = this much smoothed rain
    flag_mm: float = 5.0
    flag_hours: int = 24
    flag_runoff: float = 0.3
    warm_hours: int = 168  # storms this far before a window still reach it (and the kernel)


@dataclass(frozen=True, slots=True)
class RainField:
    """Per station and hour: gauge rain (mm/h), runoff index, rain flag."""

    rain: F32
    runoff: F32
    flag: NDArray[np.bool_]


def _kernel(lag: float, decay: float, length: int) -> F64:
    tau = np.arange(length, dtype=np.float64)
    rise = np.clip(tau / max(lag, 1e-6), 0.0, 1.0)
    fall = np.exp(-np.clip(tau - lag, 0.0, None) / decay)
    k: F64 = rise * fall
    return k / float(k.sum())


def basin_rain(basin: str, first_hour: int, hours: int, seed: int, p: RainParams) -> F64:
    """Hourly basin rain (mm/h) for ``p.warm_hours`` before epoch hour ``first_hour`` and
    ``hours`` from it. Storms are drawn per 30-day period of absolute time, so any window
    sees the same storms at the same hours."""
    warm = p.warm_hours
    out = np.zeros(warm + hours)
    top = p.storm_rate * (1 + p.wet_season)
    key = key_of("rain:" + basin)
    for period in range((first_hour - warm) // PERIOD_H, (first_hour + hours - 1) // PERIOD_H + 1):
        rng = np.random.default_rng((seed, key, period))
        n = int(rng.poisson(top * PERIOD_H / 24))
        begin = period * PERIOD_H + rng.uniform(0, PERIOD_H, n)  # epoch hours
        length = rng.uniform(*p.storm_hours, n)
        peak = np.minimum(rng.lognormal(math.log(p.peak_median), p.peak_sigma, n), p.peak_max)
        keep = rng.random(n)
        for b, d, q, u in zip(begin, length, peak, keep, strict=True):
            day = (b % _YEAR_H) / 24.0
            season = math.cos(2 * math.pi * (day - p.peak_day) / 365.25)
            if u * top > p.storm_rate * (1 + p.wet_season * season):
                continue  # thinning: fewer storms out of the wet season
            lo = max(math.ceil(b), first_hour - warm)
            hi = min(math.floor(b + d), first_hour + hours - 1)
            if hi < lo:
                continue
            h = np.arange(lo, hi + 1)
            out[h - first_hour + warm] += q * np.sin(math.pi * (h - b) / d)
    return out


def rain_field(
    stations: Sequence[StationSpec],
    gauge: F64,
    first_hour: int,
    hours: int,
    seed: int,
    p: RainParams,
) -> RainField:
    """Gauge rain, runoff index and rain flag for ``stations`` (``gauge``: their factors) over
    ``hours`` from epoch hour ``first_hour``."""
    warm = p.warm_hours
    basins: dict[str, F64] = {}
    for s in stations:
        if s.basin_key not in basins:
            basins[s.basin_key] = basin_rain(s.basin_key, first_hour, hours, seed, p)
    rain = np.stack([basins[s.basin_key] for s in stations]) * gauge[:, None]
    kernels = np.stack(
        [_kernel(p.lag_hours + p.lag_per_km * s.km, p.decay_hours, warm) for s in stations]
    )
    n = 1 << math.ceil(math.log2(2 * warm + hours))
    smooth = np.fft.irfft(np.fft.rfft(rain, n, axis=1) * np.fft.rfft(kernels, n, axis=1), n)
    runoff = np.clip(smooth[:, warm : warm + hours], 0.0, None) / p.reference_mm_h
    csum = np.cumsum(rain, axis=1)
    ends = np.arange(warm, warm + hours)
    recent = csum[:, ends] - csum[:, ends - min(p.flag_hours, warm)]
    flag = (recent >= p.flag_mm) | (runoff >= p.flag_runoff)
    return RainField(
        rain[:, warm:].astype(np.float32), runoff.astype(np.float32), np.asarray(flag, bool)
    )

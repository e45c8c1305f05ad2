"""Sensor trouble at river stations: slow drift and faults (pure, seeded numpy).

- **Drift**: on a share of stations one probe (DO, pH, NH3-N, turbidity, conductivity or ORP)
  creeps away from the truth at a steady rate and is set right at each calibration: a sawtooth
  on absolute time, so it continues across windows.
- **Flat line**: a stream repeats the value of the moment it got stuck, for an exponential time.
- **Spike**: one reading jumps by many noise standard deviations (kept in the physical range).
- **Dropout**: the whole station sends nothing (NaN) for a while (power, communication).
- **Loss**: single readings missing (NaN).

Rates are per stream (or station) per day; all are local defaults. Each fault is recorded
(columnar ``Faults``) so a benchmark can tell a detector's fault alarms from event alarms.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cityops.sim.river_spec import INDEX

F32 = NDArray[np.float32]
I32 = NDArray[np.int32]


class FaultKind(enum.IntEnum):
    flat = 1
    spike = 2
    dropout = 3
    loss = 4
    drift = 5


DRIFTING = ("do", "ph", "nh3n", "turbidity", "conductivity", "orp")
ABSOLUTE_DRIFT = {"ph": 0.005, "orp": 1.0}  # per day, in the property's unit


@dataclass(frozen=True, slots=True)
class FaultParams:
    flat_rate: float = 0.01  # per stream per day
    flat_hours: float = 12.0  # mean length
    spike_rate: float = 0.01  # per stream per day
    spike_sigma: tuple[float, float] = (8.0, 20.0)  # jump, in noise standard deviations
    dropout_rate: float = 0.02  # per station per day
    dropout_hours: float = 6.0
    loss_fraction: float = 0.002  # of single readings
    drift_share: float = 0.1  # of stations with a drifting probe
    drift_per_day: float = 0.005  # relative to the baseline (pH, ORP: ABSOLUTE_DRIFT)
    calibration_days: float = 30.0

    @staticmethod
    def none() -> FaultParams:
        """No faults and no drift (clean data for tests and demos)."""
        return FaultParams(
            flat_rate=0.0, spike_rate=0.0, dropout_rate=0.0, loss_fraction=0.0, drift_share=0.0
        )


@dataclass(frozen=True, slots=True)
class Faults:
    """One row per fault: station index, property index (-1: all), kind, hours [start, end)."""

    station: I32
    prop: I32
    kind: NDArray[np.int8]
    start: I32
    end: I32

    def __len__(self) -> int:
        return int(self.station.shape[0])

    def count(self, kind: FaultKind) -> int:
        return int((self.kind == kind).sum())

    @staticmethod
    def build(rows: list[tuple[int, int, int, int, int]]) -> Faults:
        a = np.asarray(rows, np.int64).reshape(-1, 5)
        return Faults(
            a[:, 0].astype(np.int32),
            a[:, 1].astype(np.int32),
            a[:, 2].astype(np.int8),
            a[:, 3].astype(np.int32),
            a[:, 4].astype(np.int32),
        )


def add_drift(
    values: F32,
    i: int,
    mean: F32,
    epoch_hours: NDArray[np.float64],
    rng: np.random.Generator,
    p: FaultParams,
    rows: list[tuple[int, int, int, int, int]],
) -> None:
    """Maybe give station ``i`` a drifting probe (a sawtooth reset every calibration)."""
    u = rng.random(4)
    if u[0] >= p.drift_share:
        return
    prop = DRIFTING[int(u[1] * len(DRIFTING))]
    j = INDEX[prop]
    rate = ABSOLUTE_DRIFT.get(prop, p.drift_per_day * float(mean[j]))
    sign = 1.0 if u[2] < 0.5 else -1.0
    period = p.calibration_days * 24
    age_days = ((epoch_hours + u[3] * period) % period) / 24.0
    values[i, j] += (sign * rate * age_days).astype(np.float32)
    rows.append((i, j, FaultKind.drift, 0, values.shape[2]))


def add_faults(
    values: F32,
    i: int,
    sigma: F32,
    low: F32,
    high: F32,
    rng: np.random.Generator,
    p: FaultParams,
    rows: list[tuple[int, int, int, int, int]],
) -> None:
    """Flat lines, spikes, dropouts and lost readings on station ``i`` (in place)."""
    n_props, hours = values.shape[1], values.shape[2]
    days = hours / 24.0
    row = values[i]
    for j in range(n_props):
        for _ in range(int(rng.poisson(p.flat_rate * days))):
            a = int(rng.integers(hours))
            b = min(hours, a + max(1, round(float(rng.exponential(p.flat_hours)))))
            row[j, a:b] = row[j, a]
            rows.append((i, j, FaultKind.flat, a, b))
        for _ in range(int(rng.poisson(p.spike_rate * days))):
            a = int(rng.integers(hours))
            jump = float(rng.uniform(*p.spike_sigma)) * float(sigma[j]) or float(high[j]) * 0.01
            sign = 1.0 if rng.random() < 0.5 else -1.0
            row[j, a] = np.clip(row[j, a] + sign * jump, low[j], high[j])
            rows.append((i, j, FaultKind.spike, a, a + 1))
    for _ in range(int(rng.poisson(p.dropout_rate * days))):
        a = int(rng.integers(hours))
        b = min(hours, a + max(1, round(float(rng.exponential(p.dropout_hours)))))
        row[:, a:b] = np.nan
        rows.append((i, -1, FaultKind.dropout, a, b))
    lost = int(rng.poisson(p.loss_fraction * n_props * hours))
    if lost:
        flat = rng.integers(n_props * hours, size=lost)
        row.reshape(-1)[flat] = np.nan
        for k in flat.tolist():
            rows.append((i, k // hours, FaultKind.loss, k % hours, k % hours + 1))

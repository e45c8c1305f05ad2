"""The device simulator: readings for a fleet of devices, deterministic by seed (pure, numpy).

Time moves in ticks of ``BASE_TICK`` seconds counted from the Unix epoch; each tick draws its
random numbers from ``default_rng((seed, tick))``, so the same seed gives the same readings
however the time range is cut into ``advance`` calls (actuator commands aside, which take effect
from the next tick). Every stream is an AR(1) wander around its baseline plus a diurnal cosine
and white reading noise; incidents (``device_incidents``) add offsets; faults make a stream flat,
spike it by an impossible jump, or take a whole device offline. All streams are updated per tick
with vector operations; a stream emits a reading on the ticks its interval and phase select.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from cityops.sim import device_incidents as inc
from cityops.sim.device_kinds import BASE_TICK, DeviceKind, load_kinds

_DAY = 86_400.0
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Device:
    """One simulated device: its kind, site (the 部件 ident) and datastream per property."""

    key: str
    kind: str
    site: str
    datastreams: Mapping[str, int]
    thing_id: int | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Rates are per device per day (``rain_storm``: per day for the whole city)."""

    incident_rates: Mapping[str, float] = field(
        default_factory=lambda: {
            "gas_buildup": 0.02,
            "cover_tilt": 0.01,
            "bridge_overload": 0.05,
            "crowd_surge": 0.5,
            "rain_storm": 0.3,
            "dust_event": 0.05,
            "water_pollution": 0.03,
        }
    )
    flat_rate: float = 0.02  # a stream gets stuck (flat line)
    flat_minutes: float = 180.0  # mean length of a flat line
    spike_rate: float = 0.02  # an impossible jump in one reading
    offline_rate: float = 0.03  # a device goes offline (dropout)
    offline_minutes: float = 60.0
    loss_fraction: float = 0.002  # single readings lost on the way
    crowd_surge_tag: str = "guanyinqiao"  # surges happen on devices with this tag when any
    params: inc.IncidentParams = field(default_factory=inc.IncidentParams)


@dataclass(frozen=True, slots=True)
class SimEvent:
    """Something the simulator did (an incident or a fault began or ended), for logs and tests."""

    at: datetime
    what: str  # incident kind, or "fault:flat" / "fault:spike" / "fault:offline"
    device: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Readings:
    """Columnar readings: datastream id, epoch seconds, result."""

    datastream: I64
    time: F64
    result: F64

    def __len__(self) -> int:
        return int(self.datastream.shape[0])

    def rows(self) -> list[tuple[int, float, float]]:
        """``(datastream_id, epoch seconds, result)`` tuples, as the ingest service takes them."""
        return list(
            zip(self.datastream.tolist(), self.time.tolist(), self.result.tolist(), strict=True)
        )

    @staticmethod
    def concat(parts: Sequence[Readings]) -> Readings:
        if not parts:
            return Readings(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        return Readings(
            np.concatenate([p.datastream for p in parts]),
            np.concatenate([p.time for p in parts]),
            np.concatenate([p.result for p in parts]),
        )


def tick_of(moment: datetime) -> int:
    return math.floor(moment.timestamp() / BASE_TICK)


class DeviceSimulator:
    """Plays a fleet forward in time; see the module docstring."""

    def __init__(
        self,
        devices: Sequence[Device],
        *,
        start: datetime,
        seed: int = 7,
        config: SimConfig | None = None,
        kinds: Mapping[str, DeviceKind] | None = None,
    ) -> None:
        self.config = config or SimConfig()
        self.seed = seed
        self.kinds = dict(kinds if kinds is not None else load_kinds().kinds)
        self.devices = [d for d in devices if d.kind in self.kinds]
        self.tick = tick_of(start)
        self.events: deque[SimEvent] = deque(maxlen=10_000)
        self.incidents: list[inc.Incident] = []
        self._build()

    def _build(self) -> None:
        cols: dict[str, list[float]] = {
            k: [] for k in ["base", "noise", "phi", "white", "diu", "peak", "lo", "hi"]
        }
        dev: list[int] = []
        every: list[int] = []
        ds: list[int] = []
        integral: list[str] = []
        self.dev_streams: list[dict[str, int]] = []
        for d_i, device in enumerate(self.devices):
            kind = self.kinds[device.kind]
            mine: dict[str, int] = {}
            for p in kind.properties:
                if p.key not in device.datastreams:
                    continue
                mine[p.key] = len(ds)
                dev.append(d_i)
                every.append(kind.interval // BASE_TICK)
                ds.append(device.datastreams[p.key])
                for name, value in zip(
                    cols,
                    (p.baseline, p.noise, p.phi, p.white, p.diurnal, p.peak_hour, p.min, p.max),
                    strict=True,
                ):
                    cols[name].append(value)
                integral.append(p.integral_of or "")
            self.dev_streams.append(mine)
        self.dev = np.asarray(dev, np.int64)
        self.every = np.asarray(every, np.int64)
        self.ds = np.asarray(ds, np.int64)
        self.base, self.noise, self.phi = (np.asarray(cols[k]) for k in ("base", "noise", "phi"))
        self.white, self.diurnal = np.asarray(cols["white"]), np.asarray(cols["diu"])
        self.peak, self.lo, self.hi = (np.asarray(cols[k]) for k in ("peak", "lo", "hi"))
        self.innov = self.noise * np.sqrt(1 - self.phi**2)
        n = len(ds)
        setup = np.random.default_rng((self.seed, 0))
        self.phase = setup.integers(0, np.maximum(self.every, 1))
        self.x = setup.normal(0.0, 1.0, n) * self.noise  # start in the stationary spread
        self.integ = np.zeros(n)
        self.flat_until = np.full(n, -1, np.int64)
        self.flat_value = np.zeros(n)
        self.last = self.base.copy()
        self.offline_until = np.full(len(self.devices), -1, np.int64)
        self.integral_pairs = [
            (i, self.dev_streams[self.dev[i]][src]) for i, src in enumerate(integral) if src
        ]
        self.fan_on = np.zeros(len(self.devices), bool)
        self.actuator = np.array([self.kinds[d.kind].actuator for d in self.devices], bool)
        self.actuator_streams = np.flatnonzero(self.actuator[self.dev]) if n else np.zeros(0, int)
        self.by_key = {d.key: i for i, d in enumerate(self.devices)}
        fans = {d.site: i for i, d in enumerate(self.devices) if self.kinds[d.kind].actuator}
        self.site_fan = [fans.get(d.site, -1) for d in self.devices]
        self.of_kind: dict[str, list[int]] = {}
        for i, d in enumerate(self.devices):
            self.of_kind.setdefault(d.kind, []).append(i)

    # ---------------------------------------------------------------- control

    def current_time(self) -> datetime:
        """The time of the last simulated tick."""
        return datetime.fromtimestamp(self.tick * BASE_TICK, UTC)

    def set_actuator(self, device_key: str, on: bool) -> bool:
        """Switch an actuator (exhaust fan); from the next tick on. False if there is none."""
        i = self.by_key.get(device_key)
        if i is None or not self.actuator[i]:
            return False
        self.fan_on[i] = on
        return True

    def fan_for(self, device_key: str) -> str | None:
        """The key of the actuator on the same site as this device, if any."""
        i = self.by_key.get(device_key)
        if i is None or self.site_fan[i] < 0:
            return None
        return self.devices[self.site_fan[i]].key

    def trigger(
        self,
        kind: str,
        device_key: str,
        at: datetime | None = None,
        extra: dict[str, float] | None = None,
    ) -> inc.Incident:
        """Start an incident now (or at ``at``) on a device of the incident's kind.

        ``extra`` sets the incident's own numbers (``fan_residual`` for a gas leak the fan
        cannot clear)."""
        i = self.by_key[device_key]
        tick = tick_of(at) if at else self.tick + 1
        rng = np.random.default_rng((self.seed, tick, 1 + i))
        incident = self._start(kind, i, tick, rng)
        incident.extra.update(extra or {})
        return incident

    def _start(self, kind: str, i: int, tick: int, rng: np.random.Generator) -> inc.Incident:
        streams = self.dev_streams[i]
        baselines = {k: float(self.base[s]) for k, s in streams.items()}
        incident = inc.make(kind, i, tick, rng, self.config.params, baselines)
        self.incidents.append(incident)
        when = datetime.fromtimestamp(tick * BASE_TICK, UTC)
        self.events.append(SimEvent(when, kind, self.devices[i].key, "start"))
        if kind == "rain_storm":
            self._storm_follow_ups(incident, rng)
        return incident

    def _storm_follow_ups(self, storm: inc.Incident, rng: np.random.Generator) -> None:
        """A storm rains on every gauge and sets some slopes creeping after a lag."""
        for j in self.of_kind.get("rain_gauge", []):
            if j != storm.device:
                scaled = {k: v * float(rng.uniform(0.6, 1.2)) for k, v in storm.peaks.items()}
                self.incidents.append(
                    inc.Incident("rain_storm", j, storm.start, storm.end, scaled, shape=storm.shape)
                )
        slopes = self.of_kind.get("slope_monitor", [])
        if not slopes:
            return
        p = self.config.params
        n = max(1, round(len(slopes) * p.slope_response_fraction))
        for j in rng.choice(slopes, size=min(n, len(slopes)), replace=False).tolist():
            lag = round(float(rng.uniform(*p.slope_lag_hours)) * 60)
            creep = inc.make("slope_creep", j, storm.start + lag, rng, p, {})
            creep.end = creep.start + (storm.end - storm.start)
            self.incidents.append(creep)
            when = datetime.fromtimestamp(creep.start * BASE_TICK, UTC)
            self.events.append(SimEvent(when, "slope_creep", self.devices[j].key, "start"))

    # ---------------------------------------------------------------- stepping

    def advance(self, until: datetime) -> Readings:
        """Readings with times after the last call up to ``until`` (inclusive)."""
        end = tick_of(until)
        parts = []
        while self.tick < end:
            self.tick += 1
            parts.append(self._step(self.tick))
        return Readings.concat(parts)

    def _schedule(self, k: int, rng: np.random.Generator) -> None:
        p_tick = BASE_TICK / _DAY
        busy = {(x.kind, x.device) for x in self.incidents}
        for kind, rate in self.config.incident_rates.items():
            device_kind = inc.INCIDENT_DEVICE.get(kind)
            pool = self.of_kind.get(device_kind or "", [])
            if not pool or rate <= 0:
                continue
            if kind == "crowd_surge":
                tag = self.config.crowd_surge_tag
                pool = [i for i in pool if tag in self.devices[i].tags] or pool
            if kind == "rain_storm":
                pool = pool[:1]  # one city-wide storm; rained on every gauge
            n = int(rng.poisson(rate * len(pool) * p_tick))
            for i in rng.choice(pool, size=min(n, len(pool)), replace=False).tolist():
                if (kind, i) not in busy:
                    self._start(kind, i, k, rng)

    def _step(self, k: int) -> Readings:
        rng = np.random.default_rng((self.seed, k))
        n = self.ds.shape[0]
        self._schedule(k, rng)
        self.x = self.phi * self.x + self.innov * rng.standard_normal(n)
        hour = (k * BASE_TICK / 3600.0 + 8.0) % 24.0  # Asia/Shanghai
        value = self.base + self.x + self.diurnal * np.cos((hour - self.peak) * (math.pi / 12))
        value += self.white * rng.standard_normal(n)
        self._apply_incidents(k, value)
        if self.actuator_streams.size:
            value[self.actuator_streams] = self.fan_on[self.dev[self.actuator_streams]]
        for i, src in self.integral_pairs:
            self.integ[i] += max(value[src], 0.0) * BASE_TICK / _DAY
            value[i] += self.integ[i] - self.base[i]
        np.clip(value, self.lo, self.hi, out=value)
        due = (k + self.phase) % self.every == 0
        value = self._faults(k, rng, value, due)
        due &= self.offline_until[self.dev] < k
        due &= rng.random(n) >= self.config.loss_fraction
        self.last = value
        idx = np.flatnonzero(due)
        t = np.full(idx.shape[0], float(k * BASE_TICK))
        return Readings(self.ds[idx], t, value[idx])

    def _apply_incidents(self, k: int, value: F64) -> None:
        if not self.incidents:
            return
        live = []
        for x in self.incidents:
            if x.start > k:
                live.append(x)
                continue
            fan = self.site_fan[x.device]
            offsets = x.offsets(k, bool(fan >= 0 and self.fan_on[fan]), self.config.params)
            streams = self.dev_streams[x.device]
            for key, off in offsets.items():
                s = streams.get(key)
                if s is not None:
                    value[s] += off
            if x.done:
                when = datetime.fromtimestamp(k * BASE_TICK, UTC)
                self.events.append(SimEvent(when, x.kind, self.devices[x.device].key, "end"))
            else:
                live.append(x)
        self.incidents = live

    def _faults(self, k: int, rng: np.random.Generator, value: F64, due: NDArray[np.bool_]) -> F64:
        cfg, p_tick = self.config, BASE_TICK / _DAY
        n = value.shape[0]
        u = rng.random(n)
        when = datetime.fromtimestamp(k * BASE_TICK, UTC)
        # flat line: a stream repeats its value of the moment it got stuck
        sensor = ~self.actuator[self.dev]
        start_flat = np.flatnonzero(sensor & (u < cfg.flat_rate * p_tick) & (self.flat_until < k))
        for s in start_flat.tolist():
            minutes = float(rng.exponential(cfg.flat_minutes))
            self.flat_until[s] = k + max(1, round(minutes * 60 / BASE_TICK))
            self.flat_value[s] = value[s]
            self._fault_event(when, "fault:flat", s)
        flat = self.flat_until >= k
        if flat.any():
            value = np.where(flat, self.flat_value, value)
        # spike: one reading jumps by half the sensor's range (physically impossible)
        spike_p = cfg.spike_rate * p_tick * np.maximum(self.every, 1)
        spikes = np.flatnonzero(sensor & due & ~flat & (u >= 1 - spike_p))
        for s in spikes.tolist():
            value[s] = min(self.hi[s], value[s] + 0.5 * (self.hi[s] - self.lo[s]))
            self._fault_event(when, "fault:spike", s)
        # offline: the whole device sends nothing for a while
        d = rng.random(len(self.devices))
        for i in np.flatnonzero((d < cfg.offline_rate * p_tick) & (self.offline_until < k)):
            minutes = float(rng.exponential(cfg.offline_minutes))
            self.offline_until[i] = k + max(1, round(minutes * 60 / BASE_TICK))
            self.events.append(SimEvent(when, "fault:offline", self.devices[i].key))
        return value

    def _fault_event(self, when: datetime, what: str, stream: int) -> None:
        device = self.devices[int(self.dev[stream])]
        prop = next(
            key for key, s in self.dev_streams[int(self.dev[stream])].items() if s == stream
        )
        self.events.append(SimEvent(when, what, device.key, prop))

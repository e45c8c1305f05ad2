"""River stations' readings into the sensing door, live: the demo's water-quality feed.

- ``readings_of(series, first, last)``: hours of a generated series as the columnar
  ``Readings`` the device sinks take (``datastream id, epoch s, result``), ordered by time; a
  station without a datastream for a property, and missing values (NaN), send nothing.
- ``RiverSimulator``: plays stations hour by hour from blocks of ``block_hours`` generated on
  demand; the generator is a function of absolute time, so blocks join without seams (only
  faults are drawn per block). ``trigger(discharge)`` adds a discharge while it runs; the
  current block is generated again with it, so hours already sent do not change. It is
  ``Playable``, so the device simulator's ``DeviceRunner`` plays it against a clock into the
  same sinks.
- ``linjiang_discharge``: the demo's scripted discharge on 临江河 (永川区), just below its
  uppermost station (which stays clean, for comparison), so every other station sees it in
  turn, weaker and later, before the river returns to its target class.
- ``station_specs(session)``: the stored stations (``river_station``) as ``StationSpec``.
- ``start_river_feed(ctx, stations)``: the hook the demo calls (see its docstring).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.api.context import AppContext
from cityops.clock import Clock
from cityops.scenarios.river.models import River, Section, Station
from cityops.scenarios.river.network import CHONGQING_RIVERS
from cityops.scenarios.river.stations import station_streams
from cityops.sim.device_run import DeviceRunner, DeviceSimulation, context_sink, play
from cityops.sim.device_sinks import Sink
from cityops.sim.devices import Readings
from cityops.sim.river_incidents import Discharge, IncidentLabel
from cityops.sim.river_series import RiverSeries, SeriesConfig, generate, on_the_hour
from cityops.sim.river_spec import PROPERTIES, FlowLine, StationSpec

LINJIANG = next(r.code for r in CHONGQING_RIVERS if r.name == "临江河")
_HOUR = timedelta(hours=1)


def readings_of(series: RiverSeries, first: int = 0, last: int | None = None) -> Readings:
    """Hours ``[first, last)`` of ``series`` as door readings, ordered by time then station."""
    last = series.window.hours if last is None else last
    ids = np.array(
        [[s.datastreams.get(p, -1) for p in PROPERTIES] for s in series.stations], np.int64
    ).reshape(len(series.stations), len(PROPERTIES))
    values = np.moveaxis(series.values[:, :, first:last], 2, 0)  # hours × stations × props
    times = series.times[first:last].astype(np.float64)
    keep = (ids[None, :, :] >= 0) & np.isfinite(values)
    hour, station, prop = np.nonzero(keep)
    result: NDArray[np.float64] = values[hour, station, prop].astype(np.float64).round(4)
    return Readings(ids[station, prop], times[hour], result)


class RiverSimulator:
    """River stations played forward in hourly steps (see the module docstring)."""

    def __init__(
        self,
        stations: Sequence[StationSpec],
        *,
        start: datetime,
        seed: int = 11,
        config: SeriesConfig | None = None,
        discharges: Sequence[Discharge] = (),
        block_hours: int = 168,
    ) -> None:
        self.stations = tuple(stations)
        self.origin = on_the_hour(start)
        self.seed, self.config, self.block_hours = seed, config, block_hours
        self.discharges = list(discharges)
        self.flowline = FlowLine(self.stations)
        self.sent = 0  # hours sent: the next hour to send is origin + sent hours
        self.labels: dict[tuple[str, str], IncidentLabel] = {}
        self._block: tuple[int, RiverSeries] | None = None

    def current_time(self) -> datetime:
        """The last hour sent (the hour before ``start`` until the first step)."""
        return self.origin + (self.sent - 1) * _HOUR

    def set_actuator(self, device_key: str, on: bool) -> bool:
        return False  # river stations have nothing to switch

    def trigger(self, discharge: Discharge) -> Discharge:
        """Add a discharge from now on (hours already sent stay as they were)."""
        self.discharges.append(discharge)
        self._block = None
        return discharge

    def series(self, block: int) -> RiverSeries:
        if self._block is None or self._block[0] != block:
            run = generate(
                self.stations,
                start=self.origin + block * self.block_hours * _HOUR,
                hours=self.block_hours,
                seed=self.seed,
                config=self.config,
                discharges=self.discharges,
                flowline=self.flowline,
            )
            self._block = (block, run)
            self.labels.update({(x.incident, x.station): x for x in run.labels})
        return self._block[1]

    def advance(self, until: datetime) -> Readings:
        """Readings of the hours after the last one sent up to ``until`` (inclusive)."""
        end = math.floor((until - self.origin) / _HOUR) + 1  # hours sent after this call
        parts = []
        while self.sent < end:
            block, first = divmod(self.sent, self.block_hours)
            last = min(self.block_hours, first + end - self.sent)
            parts.append(readings_of(self.series(block), first, last))
            self.sent += last - first
        return Readings.concat(parts)


def linjiang_discharge(
    stations: Sequence[StationSpec],
    start: datetime,
    *,
    hours: float = 4.0,
    strength: float = 1.5,
    velocity_ms: float = 1.0,
) -> Discharge | None:
    """A domestic-sewage discharge on 临江河 at ``start``, just below its uppermost station (or
    2 km above its only one); None when no station is on 临江河."""
    on = sorted((s for s in stations if s.river_code == LINJIANG), key=lambda s: s.km)
    if not on:
        return None
    if len(on) == 1:
        km = max(0.0, on[0].km - 2.0)
    else:
        km = on[0].km + min(2.0, (on[1].km - on[0].km) / 2)
    return Discharge(
        LINJIANG,
        round(km, 2),
        start,
        hours,
        strength=strength,
        profile="domestic",
        velocity_ms=velocity_ms,
        name="demo-linjiang",
    )


def river_runner(
    stations: Sequence[StationSpec],
    sink: Sink,
    clock: Clock,
    *,
    seed: int = 11,
    hour_seconds: float = 5.0,
    backfill: timedelta = timedelta(hours=48),
    incident_after: timedelta | None = timedelta(hours=6),
    max_lead: timedelta = timedelta(0),
    config: SeriesConfig | None = None,
) -> DeviceRunner[RiverSimulator]:
    """A runner playing ``stations`` from ``backfill`` ago, one simulated hour every
    ``hour_seconds`` until it reaches the clock (then in step with it, at most ``max_lead``
    ahead); with the 临江河 discharge ``incident_after`` the start (None: no discharge)."""
    start = on_the_hour(clock.now() - backfill)
    sim = RiverSimulator(stations, start=start, seed=seed, config=config)
    if incident_after is not None:
        discharge = linjiang_discharge(stations, start + incident_after)
        if discharge is not None:
            sim.trigger(discharge)
    speed = 3600.0 / hour_seconds
    return DeviceRunner(sim, sink, clock, speed=speed, max_lead=max_lead, thing_keys={})


def station_specs(*, session: Session) -> list[StationSpec]:
    """The active stored stations, with their datastreams, as the simulator's stations."""
    rows = session.execute(
        select(Station, Section.target_class, Section.water_body, River.code)
        .join(Section, Station.section_id == Section.id)
        .join(River, Section.river_id == River.id)
        .where(Station.active.is_(True))
        .order_by(River.code, Station.km, Station.code)
    ).all()
    streams = station_streams(session=session, station_ids=[r.Station.id for r in rows])
    return [
        StationSpec(
            code=r.Station.code,
            river_code=r.code,
            km=r.Station.km,
            target_class=r.target_class,
            water_body=r.water_body,
            datastreams=streams[r.Station.id],
        )
        for r in rows
    ]


def start_river_feed(
    ctx: AppContext,
    stations: Sequence[StationSpec],
    *,
    seed: int = 11,
    hour_seconds: float = 5.0,
    backfill: timedelta = timedelta(hours=48),
    incident_after: timedelta | None = timedelta(hours=6),
    config: SeriesConfig | None = None,
    mqtt_url: str | None = None,
    interval: float = 1.0,
) -> DeviceSimulation[RiverSimulator]:
    """Feed river stations' hourly readings into this process's door (or to ``mqtt_url``).

    The demo's hook: build ``stations`` from the station table (``StationSpec(code=station.code,
    river_code=section.river_code, km=station.km, target_class=section.target_class,
    water_body=section.water_body, datastreams={observed property name: datastream id})``),
    then call this after the rules engine is running. Simulated time starts ``backfill`` ago
    and runs one hour every ``hour_seconds`` until it reaches the clock, then with it (readings
    never lie in the future: the door refuses those); with the defaults the 临江河 discharge
    starts 6 simulated hours in (half a minute after the call), has passed the last station
    about two minutes later, and the water is back to its target long before the feed catches
    up (four minutes). Returns a handle: ``.stop()``, ``.runner.sim.trigger(discharge)`` for
    another discharge, ``.runner.sim.labels`` for where the discharges were felt,
    ``.runner.stats`` for counts.
    """
    sink = context_sink(ctx, mqtt_url)
    runner = river_runner(
        stations,
        sink,
        ctx.clock,
        seed=seed,
        hour_seconds=hour_seconds,
        backfill=backfill,
        incident_after=incident_after,
        config=config,
    )
    return play(runner, interval=interval, name="river-sim")

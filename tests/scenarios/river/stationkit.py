"""A small river network with stations for the station and quality tests, and a way to feed it.

On citykit's toy map: 测试江 (TM, a main river west→east across three streets, sections
TM-001..003) and 测试溪 (TZ, a tributary zig-zagging between 九龙坡's two streets: five
sections, so a river of it is graded by the share rule). Readings go in through the sensing
intake (validated, stored, the hourly aggregates folded), with a clock set just after each one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.scenarios.river import seeding, stations
from cityops.scenarios.river.models import Section, Station
from cityops.scenarios.river.network import RiverSpec
from cityops.sensing import service, timeseries
from tests.citykit import X0, Y0

MAIN = RiverSpec(
    "TM", "测试江", ((X0 - 0.01, Y0 + 0.010), (X0 + 0.05, Y0 + 0.011)), ("II", "III"), main=True
)
ZIG = RiverSpec(
    "TZ", "测试溪",
    ((X0 + 0.002, Y0 + 0.003), (X0 + 0.018, Y0 + 0.005), (X0 + 0.002, Y0 + 0.008),
     (X0 + 0.018, Y0 + 0.012), (X0 + 0.002, Y0 + 0.016)),
    ("III",), "TM",
)  # fmt: skip

Streams = dict[str, dict[str, int]]  # station code → item → datastream id


def build(
    session: Session, *, per_river: dict[str, int] | None = None, targets: str = "III"
) -> Streams:
    """The network, every section's target set to ``targets``, and its stations."""
    seeding.ensure_network(session=session, seed=7, rivers=[MAIN, ZIG], tributaries=())
    session.execute(update(Section).values(target_class=targets))
    stations.ensure_stations(session=session, seed=7, per_river=per_river)
    return streams(session)


def streams(session: Session) -> Streams:
    rows = {s.id: s.code for s in session.scalars(select(Station))}
    by_id = stations.station_streams(session=session, station_ids=list(rows))
    return {rows[i]: items for i, items in by_id.items()}


def feed(
    sessions: sessionmaker[Session], readings: Iterable[tuple[int, datetime, float]]
) -> list[service.IngestResult]:
    """Ingest (datastream, time, value) readings day by day, each day as of just after its
    newest reading (the intake takes a week back), then fold the hourly aggregates."""
    days: dict[object, list[tuple[int, datetime, float]]] = {}
    for r in readings:
        days.setdefault(r[1].date(), []).append(r)
    out = []
    with sessions.begin() as s:
        for day in sorted(days, key=str):
            batch = days[day]
            clock = FakeClock(max(t for _, t, _ in batch) + timedelta(minutes=1))
            rows = [[ds, t.isoformat(), v] for ds, t, v in batch]
            out.append(service.ingest(session=s, readings=rows, clock=clock))
        timeseries.rollup(session=s)
    return out


def hourly(
    ds: Mapping[str, int], start: datetime, values: Mapping[str, list[float]]
) -> list[tuple[int, datetime, float]]:
    """One reading per hour from ``start`` for each item's list of values."""
    return [
        (ds[item], start + timedelta(hours=h), v)
        for item, series in values.items()
        for h, v in enumerate(series)
    ]

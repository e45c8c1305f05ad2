"""Water quality from the stations: latest values, sparkline series, and GB 3838 assessments of a
section, the basin and a river's months (the service behind the river page's quality panels).

Periods are China Standard Time days, ``end`` inclusive; the default is the last 30 days. Means
come from the sensing hourly aggregates (kept for years; raw readings only for weeks): a
station's mean of an item is the mean of its hours with data, as ``period.period_sums`` defines
it, summed by the database so a year of a river's hours never crosses the wire. The newest
readings the rollup has not folded yet (seconds old) are not in a period. A section's values are
its stations' means averaged; the GB 3838 part is ``period``'s. Scope: the sections the caller
sees (``registry``); functions take the session explicitly and never commit.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.scope import Principal
from cityops.errors import NotFound, ValidationFailed
from cityops.scenarios.river import period as pe
from cityops.scenarios.river.evaluate import Pollutant, WaterClass, target_attainment
from cityops.scenarios.river.models import River, Section, Station
from cityops.scenarios.river.registry import visible
from cityops.scenarios.river.schemas import (
    AttainmentRead,
    ItemMean,
    PollutantRead,
    SectionQualityRead,
    SectionRef,
    SeriesPoint,
    SeriesRead,
    StationList,
    StationQuality,
    StationRead,
    StationValue,
)
from cityops.scenarios.river.standards import WaterBody
from cityops.scenarios.river.stations import GB_ITEMS, ITEMS, PLAN, station_streams
from cityops.sensing import timeseries
from cityops.sensing.models import DatastreamLatest, to_micros

CST = ZoneInfo("Asia/Shanghai")  # GB assessments count China Standard Time days and months
DEFAULT_DAYS = 30
MAX_DAYS = 731  # API limit: at most two years in one request
SERIES_MAX_HOURS = 24 * 90  # API limits of a sparkline: 90 days back,
SERIES_RAW_HOURS = 72  # raw readings up to 3 days (hourly means beyond),
SERIES_POINTS = 240  # and at most this many points (bucket means when there are more)
HOUR_US = 3_600_000_000  # an hourly aggregate bucket in epoch microseconds


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.start, time(), CST).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:  # exclusive: the next day's midnight
        return datetime.combine(self.end + timedelta(days=1), time(), CST).astimezone(UTC)


def resolve_period(*, start: date | None, end: date | None, now: datetime) -> Period:
    """``end`` defaults to today, ``start`` to 30 days up to ``end`` (422 ``bad_period``)."""
    end = end or now.astimezone(CST).date()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed(f"from {start} is after to {end}", code="bad_period")
    if (end - start).days >= MAX_DAYS:
        raise ValidationFailed(f"a period is at most {MAX_DAYS} days", code="bad_period")
    return Period(start, end)


@dataclass(frozen=True, slots=True)
class Site:
    station: Station
    section: Section
    river: River

    @property
    def lake(self) -> bool:
        return self.section.water_body == WaterBody.lake


def sites(
    *,
    session: Session,
    user: Principal,
    river_id: int | None = None,
    section_id: int | None = None,
    active_only: bool = True,
) -> list[Site]:
    """Stations on the sections the caller sees, by river and then downstream."""
    q = (
        select(Station, Section, River)
        .join(Section, Station.section_id == Section.id)
        .join(River, Section.river_id == River.id)
        .where(visible(user))
        .order_by(River.code, Station.km, Station.code)
    )
    if river_id is not None:
        q = q.where(River.id == river_id)
    if section_id is not None:
        q = q.where(Section.id == section_id)
    if active_only:
        q = q.where(Station.active.is_(True))
    return [Site(*row) for row in session.execute(q)]


def river_by_code(*, session: Session, code: str) -> River:
    river = session.scalars(select(River).where(River.code == code)).first()
    if river is None:
        raise NotFound(f"no river {code}", code="river_not_found")
    return river


def period_sums(
    *,
    session: Session,
    sites: Sequence[Site],
    items: Sequence[str],
    edges: Sequence[datetime],
    end: datetime,
) -> tuple[pe.Floats, pe.Ints]:
    """(stations, items, periods) sums of hourly means and counts of hours, as
    ``period.period_sums`` gives them, from the hourly aggregates; period k runs from
    ``edges[k]`` to the next edge (the last to ``end``)."""
    shape = (len(sites), len(items), len(edges))
    sums, counts = np.zeros(shape), np.zeros(shape, dtype=np.int64)
    streams = station_streams(session=session, station_ids=[s.station.id for s in sites])
    where: dict[int, tuple[int, int]] = {}
    for si, site in enumerate(sites):
        for ii, key in enumerate(items):
            if key in streams[site.station.id]:
                where[streams[site.station.id][key]] = (si, ii)
    if not where:
        return sums, counts
    # Closed hours from the table, the open ones from the raw rows (sensing.aggregates).
    hours = timeseries.buckets(
        session=session, datastream_ids=list(where), width=HOUR_US, start=edges[0], end=end
    )
    first, stop = to_micros(edges[0]), to_micros(end)
    bounds = [to_micros(e) for e in edges[1:]]
    for (ds, bucket), (count, total, _lo, _hi) in hours.items():
        if not first <= bucket < stop or not count:
            continue
        si, ii = where[ds]
        p = bisect_right(bounds, bucket)  # period k: edges[k] <= bucket < edges[k + 1]
        sums[si, ii, p] += total / count
        counts[si, ii, p] += 1
    return sums, counts


def rounded(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 4)


def _pollutants(found: Sequence[Pollutant]) -> list[PollutantRead]:
    return [
        PollutantRead(
            item=p.item, name=p.name, water_class=p.water_class.label,
            multiple=round(p.multiple, 2) if p.multiple is not None else None,
        )
        for p in found
    ]  # fmt: skip


def _item_means(mean: pe.Floats, classes: pe.Ints, hours: pe.Ints) -> list[ItemMean]:
    counted = pe.table(ITEMS).counted
    out = []
    for j, key in enumerate(ITEMS):
        item = PLAN.items[key]
        cls = int(classes[j])
        out.append(
            ItemMean(
                item=key, name=item.name, unit=item.unit, mean=rounded(mean[j]),
                hours=int(hours[j]), water_class=pe.label(cls), counted=bool(counted[j]),
                passed=(cls == WaterClass.I) if key == "ph" and cls else None,
            )
        )  # fmt: skip
    return out


def section_quality(
    *,
    session: Session,
    user: Principal,
    code: str,
    start: date | None,
    end: date | None,
    now: datetime,
) -> SectionQualityRead:
    """A section's assessment over the period, and each of its stations' (404, 403, 422)."""
    row = session.execute(
        select(Section, River).join(River, Section.river_id == River.id).where(Section.code == code)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no section {code}", code="section_not_found")
    section, river = row
    user.require_covers(section.street_code, f"section {code}")
    span = resolve_period(start=start, end=end, now=now)
    found = sites(session=session, user=user, section_id=section.id)
    sums, counts = period_sums(
        session=session, sites=found, items=ITEMS, edges=[span.start_utc], end=span.end_utc
    )
    means, hours = pe.means(sums, counts)[..., 0], counts[..., 0]
    lake = section.water_body == WaterBody.lake
    target = WaterClass.parse(section.target_class)
    classes = pe.classify(means, ITEMS, lake)
    overall = pe.overall(classes, ITEMS)
    stations = [
        StationQuality(
            code=site.station.code, name=site.station.name, km=site.station.km,
            water_class=pe.label(int(overall[i])), grade=pe.class_grade(int(overall[i])),
            items=_item_means(means[i], classes[i], hours[i]),
            main_pollutants=_pollutants(
                pe.main_pollutants(means[i], ITEMS, target=target, lake=lake)
            ),
        )
        for i, site in enumerate(found)
    ]  # fmt: skip
    mean = pe.group_means(means, np.zeros(len(found), dtype=np.intp), 1)[0]
    sec_classes = pe.classify(mean, ITEMS, lake)
    sec_class = int(pe.overall(sec_classes, ITEMS))
    attainment = None
    if sec_class:
        a = target_attainment(actual=WaterClass(sec_class), target=target)
        attainment = AttainmentRead(
            target_class=target.label, attained=a.attained, gap=a.gap, phrase=a.phrase
        )
    return SectionQualityRead(
        section=SectionRef(
            code=section.code, name=section.name, river_code=river.code, river_name=river.name,
            target_class=section.target_class, water_body=section.water_body,
        ),
        start=span.start, end=span.end, water_class=pe.label(sec_class),
        grade=pe.class_grade(sec_class), attainment=attainment,
        main_pollutants=_pollutants(pe.main_pollutants(mean, ITEMS, target=target, lake=lake)),
        items=_item_means(mean, sec_classes, hours.sum(axis=0)),
        stations=stations,
    )  # fmt: skip


def list_stations(*, session: Session, user: Principal, river: str | None) -> StationList:
    """Stations the caller sees (on one river), with each item's latest value and class."""
    river_id = river_by_code(session=session, code=river).id if river else None
    found = sites(session=session, user=user, river_id=river_id, active_only=False)
    streams = station_streams(session=session, station_ids=[s.station.id for s in found])
    ids = [ds for by_item in streams.values() for ds in by_item.values()]
    latest = {
        ds: (value, at)
        for ds, value, at in session.execute(
            select(
                DatastreamLatest.datastream_id,
                DatastreamLatest.result,
                DatastreamLatest.phenomenon_time,
            ).where(DatastreamLatest.datastream_id.in_(ids))
        )
    }
    values = np.full((len(found), len(ITEMS)), np.nan)
    for i, site in enumerate(found):
        for j, key in enumerate(ITEMS):
            got = latest.get(streams[site.station.id].get(key, -1))
            if got is not None and got[0] is not None:
                values[i, j] = got[0]
    classes = pe.classify(values, ITEMS, np.array([s.lake for s in found], dtype=bool))
    overall = pe.overall(classes, ITEMS)
    items = []
    for i, site in enumerate(found):
        own = streams[site.station.id]
        times = [latest[ds][1] for ds in own.values() if ds in latest]
        cls = int(overall[i])
        items.append(
            StationRead(
                code=site.station.code, name=site.station.name,
                section_code=site.section.code, section_name=site.section.name,
                river_code=site.river.code, river_name=site.river.name,
                lat=site.station.lat, lng=site.station.lng, km=site.station.km,
                active=site.station.active, target_class=site.section.target_class,
                latest_class=pe.label(cls), latest_grade=pe.class_grade(int(overall[i])),
                attained=cls <= WaterClass.parse(site.section.target_class) if cls else None,
                latest_time=max(times, default=None),
                values=[
                    StationValue(
                        item=key, name=PLAN.items[key].name, unit=PLAN.items[key].unit,
                        datastream_id=own[key], value=rounded(values[i, j]),
                        time=latest[own[key]][1] if own[key] in latest else None,
                        water_class=pe.label(int(classes[i, j])) if key in GB_ITEMS else None,
                    )
                    for j, key in enumerate(ITEMS)
                    if key in own
                ],
            )
        )  # fmt: skip
    return StationList(items=items, total=len(items))


def downsample(
    t: pe.Floats, v: pe.Floats, *, origin: float, points: int
) -> tuple[pe.Floats, pe.Floats, int | None]:
    """At most ``points`` (time, value) pairs: bucket means over equal spans from ``origin``
    (seconds, whole minutes) when there are more; the bucket width, or None if left alone."""
    if t.size <= points:
        return t, v, None
    width = float(max(60, -(-int(np.ceil((t[-1] - origin) / points)) // 60) * 60))
    bucket = ((t - origin) // width).astype(np.intp)
    n = np.bincount(bucket)
    sums = np.bincount(bucket, weights=v)
    keep = n > 0
    return origin + np.flatnonzero(keep) * width, sums[keep] / n[keep], int(width)


def station_series(
    *, session: Session, user: Principal, code: str, item: str, hours: int, now: datetime
) -> SeriesRead:
    """One station item's readings over the last ``hours`` for a sparkline, oldest first."""
    row = session.execute(
        select(Station, Section).join(Section, Station.section_id == Section.id)
        .where(Station.code == code)
    ).one_or_none()  # fmt: skip
    if row is None:
        raise NotFound(f"no station {code}", code="station_not_found")
    station, section = row
    user.require_covers(section.street_code, f"station {code}")
    if item not in PLAN.items:
        raise ValidationFailed(
            f"unknown item {item!r}; known: {', '.join(ITEMS)}", code="unknown_item"
        )
    if not 1 <= hours <= SERIES_MAX_HOURS:
        raise ValidationFailed(f"hours is 1..{SERIES_MAX_HOURS}", code="bad_hours")
    ds = station_streams(session=session, station_ids=[station.id])[station.id].get(item)
    if ds is None:
        raise NotFound(f"station {code} does not measure {item}", code="datastream_not_found")
    end = now.astimezone(UTC)
    start = end - timedelta(hours=hours)
    raw = hours <= SERIES_RAW_HOURS
    rows = timeseries.observations(
        session=session, datastream_id=ds, start=start, end=end, agg="raw" if raw else "1h"
    )
    pairs = [
        (r["time"].timestamp(), float(value))
        for r in rows
        if isinstance(value := r["result"] if raw else r["mean"], int | float)
    ]
    t: pe.Floats = np.array([p[0] for p in pairs], dtype=np.float64)
    v: pe.Floats = np.array([p[1] for p in pairs], dtype=np.float64)
    t, v, width = downsample(t, v, origin=start.timestamp() // 60 * 60, points=SERIES_POINTS)
    return SeriesRead(
        station=code, item=item, unit=PLAN.items[item].unit, start=start, end=end,
        step_seconds=width if width is not None else (None if raw else 3600),
        points=[
            SeriesPoint(t=datetime.fromtimestamp(a, UTC), v=round(float(b), 4))
            for a, b in zip(t, v, strict=True)
        ],
    )  # fmt: skip

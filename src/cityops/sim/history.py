"""Bulk-load years of historical cases (历史案件) so KPIs, dashboards and benchmarks have data.

Every case is generated whole (上报 → 受理 → 立案 → 派遣 → 处置 → 核查 → 结案 → 评价) and then cut
at ``until`` (midnight, city time): cases older than a few weeks are closed or evaluated, recent
ones stand in whichever open state they had reached. Rows go in id = time order with raw
``executemany`` on SQLite and ``COPY`` on PostgreSQL in one transaction (a large load drops the
case indexes and builds them again after), then ``ANALYZE``; one ledger entry records the
import (count, id range, seed, SHA-256 over the generated columns).

Approximations (deliberate):

* time limits (处置时限) run on the wall clock: ``4h`` is 4 hours and ``2d`` 2 days after
  dispatch, not working hours/days; ``handling_seconds`` is wall-clock time from dispatch to
  handling (the live service counts working time).
* cases lie on today's map, departments and workers, even on days before a boundary change.
* the department follows the category's type and handling level, with the street office as the
  territorial fallback (属地兜底); dispatch plans and component owners are not consulted.
* no ``case_report`` rows and no per-case ledger entries: the import entry stands for them.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex

from cityops.cases.categories import Catalogue, load_catalogue
from cityops.cases.models import Case
from cityops.errors import ValidationFailed
from cityops.geo.models import Jurisdiction
from cityops.ledger import service as ledger
from cityops.registry.models import Department, Staff, StaffRole
from cityops.settings import Settings
from cityops.store.engine import make_engine, make_session_factory, transaction

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BOOL = npt.NDArray[np.bool_]
OBJ = npt.NDArray[np.object_]


def _words(text: str) -> list[str]:
    return text.split()


BATCH = 20_000
REBUILD_INDEXES_FROM = 100_000  # a load this large (and larger than the table) rebuilds indexes
PARALLEL_FROM = 200_000  # a load this large is generated in a helper process
NEVER = np.int64(2**62)
FOCUS_SHARE = 0.6  # share of cases in the unit-grid (full-grid) areas
# 案件来源: inspector 45 %, video 20 %, resident 15 %, hotline 12 %, the rest.
CHANNELS = np.array(_words("inspector video resident hotline sensor patrol leader"), dtype=object)
CHANNEL_W = np.array([45, 20, 15, 12, 3, 3, 2], dtype=float)
TRUSTED = np.array([True, True, False, False, True, True, True])  # may be auto-filed
EVALUATED_P = np.array([0.35, 0.3, 0.8, 0.85, 0.2, 0.3, 0.5])  # 回访 share by channel
# The problems that dominate real case loads (code:weight); other categories weigh 0.4.
# garbage | road cleanliness | parking | small ads | road damage | street lights | covers | rest
CATEGORY_W = {
    code: float(weight)
    for code, weight in (
        item.split(":")
        for item in _words("""06010:14 06011:6 06042:6 03005:3 06041:2 | 06012:12 06014:4 |
            09009:10 09010:5 09011:2 | 07001:9 07002:1.5 | 06013:6 06051:1 | 01037:6 |
            01001:2 01002:2.5 01003:2.5 01005:1 01011:0.8 01902:1 |
            09006:4 09005:3 06036:3 04002:2 08004:2 06028:1.5 09001:1.5""")
        if item != "|"
    )
}
# Local hour of day 0–23 (working hours dominate), weekday, month (summer peak, Spring Festival).
HOUR_W = np.array(
    _words(
        "0.15 0.1 0.08 0.07 0.08 0.2 0.6 1.5 3.2 4.5 4.8 4.2 2.2 2.6 4.4 4.6 4.2 2.8 1.6 1.3 1.1 "
        "0.8 0.5 0.3"
    ),
    dtype=float,
)
WEEKDAY_W = np.array([1.0, 1.0, 1.0, 1.0, 0.97, 0.62, 0.55])
MONTH_W = np.array([0.85, 0.78, 0.95, 1.0, 1.05, 1.12, 1.18, 1.15, 1.05, 1.0, 0.95, 0.9])
SATISFACTION_W = (np.array([2, 3, 7, 28, 60.0]), np.array([6, 9, 20, 35, 30.0]))  # on time, late
VOID_P, SHELVE_P, RETURN_P, REWORK_P = 0.03, 0.008, 0.02, 0.05
LATE_P, REWORK_LATE_P = 0.11, 0.3  # with rework at 5 %: about 88 % handled on time
# Status by the last stage reached, latest first (see ``generate_batch``).
STAGES = tuple(
    _words(
        "void shelved evaluated closed verified handled in_progress dispatched returned "
        "dispatched filed accepted"
    )
)
TIMES = tuple(
    _words(
        "reported_at accepted_at filed_at dispatched_at started_at handled_at verified_at "
        "closed_at evaluated_at deadline_at next_check_at updated_at"
    )
)
COLUMNS = (
    *_words("""id kind category_code major_code catalogue_version title description channel status
    closing_type lat lng address district_code street_code community_code grid_code
    reporter_staff_id department_id handling_level worker_id time_limit handled_on_time
    handling_seconds extension_count rework_count return_count escalation_level
    near_overdue_warned self_handled auto_filed satisfaction report_count version"""),
    *TIMES,
)
Progress_ = Callable[[int], None]
_NONE = np.array(None, dtype=object)
_INSERT = 'INSERT INTO "case" ({}) VALUES ({})'.format(
    ", ".join(COLUMNS), ", ".join("?" * len(COLUMNS))
)


def _objects(values: list[Any]) -> OBJ:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _cdf(weights: F64) -> F64:
    c = np.cumsum(weights, dtype=float)
    return np.asarray(c / c[-1], dtype=float)


def _pick(cdf: F64, u: F64) -> I64:
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1).astype(np.int64)


@dataclass
class City:
    """What the generator draws from, as arrays: places, categories, departments, people."""

    place_text: dict[str, OBJ]  # district, street, community, grid, address
    place_street: I64  # street index of each place
    place_xy: F64  # (n, 4): lat, lng, half height, half width (jitter)
    place_cdf: F64
    cat_text: dict[str, OBJ]  # kind, code, major, name, description, level, limit
    cat_limit: I64  # seconds (wall clock)
    cat_auto: BOOL
    cat_cdf: F64
    dept: I64  # (streets, categories) → department id or -1
    workers: tuple[I64, I64, I64]  # flat ids, start, count per department id
    inspectors: tuple[I64, I64, I64]  # flat ids, start, count per street index


def _groups(keys: list[int], ids: list[int], n: int) -> tuple[I64, I64, I64]:
    k = np.asarray(keys, dtype=np.int64)
    flat = np.asarray(ids, dtype=np.int64)[np.argsort(k, kind="stable")]
    count = np.bincount(k, minlength=n).astype(np.int64)
    return flat, np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64), count


def read_city(session: Session, catalogue: Catalogue, seed: int) -> City:
    """Places: unit grids; else a street's communities; else the street itself."""
    j = Jurisdiction
    rows = session.execute(
        select(
            j.code,
            j.name,
            j.level,
            j.district_code,
            j.street_code,
            j.community_code,
            j.center_lat,
            j.center_lng,
            j.max_lat - j.min_lat,
            j.max_lng - j.min_lng,
        )
        .where(j.valid_to.is_(None))
        .order_by(j.code)
    ).all()
    names = {r[0]: r[1] for r in rows}
    usable = [r for r in rows if r[6] is not None and r[2] in ("street", "community", "grid")]
    by_level = {lv: [r for r in usable if r[2] == lv] for lv in ("grid", "community", "street")}
    gridded = {r[4] or r[0][:9] for r in by_level["grid"]}
    communal = {r[4] or r[0][:9] for r in by_level["community"]} - gridded
    places = [
        *by_level["grid"],
        *(r for r in by_level["community"] if (r[4] or r[0][:9]) in communal),
        *(r for r in by_level["street"] if r[0] not in gridded | communal),
    ]
    if not places:
        raise ValidationFailed("the map has no streets: load jurisdictions first", code="no_map")
    street_of = [r[0] if r[2] == "street" else r[4] or r[0][:9] for r in places]
    streets = sorted(set(street_of))
    street_ix = {s: i for i, s in enumerate(streets)}
    pstreet = np.array([street_ix[s] for s in street_of], dtype=np.int64)
    focus = np.array([r[2] == "grid" for r in places])
    weight = np.random.default_rng([seed, 99]).lognormal(0.0, 0.6, len(places))
    weight /= np.bincount(pstreet)[pstreet]  # each street about equal before the hot spots
    if focus.any() and (~focus).any():
        weight = np.where(
            focus,
            FOCUS_SHARE * weight / weight[focus].sum(),
            (1 - FOCUS_SHARE) * weight / weight[~focus].sum(),
        )
    district = [r[3] or r[0][:6] for r in places]
    address = [
        names.get(d, "")
        + names.get(s, "")
        + (r[1] if r[2] == "community" else names.get(r[5] or "", "") if r[2] == "grid" else "")
        for d, s, r in zip(district, street_of, places, strict=True)
    ]
    cats = catalogue.all()
    dept = _department_matrix(session, streets, cats)
    staff = session.execute(
        select(Staff.id, Staff.role, Staff.department_id, Staff.street_code)
        .where(Staff.active.is_(True), Staff.role.in_([StaffRole.worker, StaffRole.inspector]))
        .order_by(Staff.id)
    ).all()
    top = int(max(dept.max(initial=0), *(int(d or 0) for _, _, d, _ in staff), 0)) + 1
    work = [(int(d), int(i)) for i, r, d, _ in staff if r == StaffRole.worker and d is not None]
    insp = [
        (street_ix[s], int(i))
        for i, r, _, s in staff
        if r == StaffRole.inspector and s in street_ix
    ]
    return City(
        place_text={
            "district": _objects(district),
            "street": _objects(street_of),
            "community": _objects([r[0] if r[2] == "community" else r[5] for r in places]),
            "grid": _objects([r[0] if r[2] == "grid" else None for r in places]),
            "address": _objects(address),
        },
        place_street=pstreet,
        place_xy=np.array(
            [(r[6], r[7], (r[8] or 0.004) * 0.3, (r[9] or 0.004) * 0.3) for r in places],
            dtype=float,
        ),
        place_cdf=_cdf(weight),
        cat_text={
            "kind": _objects([c.kind.value for c in cats]),
            "code": _objects([c.code for c in cats]),
            "major": _objects([c.major_code for c in cats]),
            "name": _objects([c.name for c in cats]),
            "description": _objects([f"{c.name}（历史案件）" for c in cats]),
            "level": _objects([c.handling_level for c in cats]),
            "limit": _objects([str(c.time_limit) for c in cats]),
        },
        cat_limit=np.array(
            [
                int(c.time_limit.amount * (3600 if c.time_limit.unit == "hour" else 86400))
                for c in cats
            ]
        ),
        cat_auto=np.array([c.auto_file for c in cats]),
        cat_cdf=_cdf(np.array([float(CATEGORY_W.get(c.code, 0.4)) for c in cats])),
        dept=dept,
        workers=_groups([k for k, _ in work], [v for _, v in work], top),
        inspectors=_groups([k for k, _ in insp], [v for _, v in insp], len(streets)),
    )


def _department_matrix(session: Session, streets: list[str], cats: list[Any]) -> I64:
    """属地: the category's department type at street or district level, else the street office."""
    found: dict[tuple[str, str], int] = {}
    for d_id, d_type, code in session.execute(
        select(Department.id, Department.type, Department.jurisdiction_code)
        .where(Department.active.is_(True))
        .order_by(Department.id)
    ):
        found.setdefault((str(getattr(d_type, "value", d_type)), code), int(d_id))
    out = np.full((len(streets), len(cats)), -1, dtype=np.int64)
    for i, street in enumerate(streets):
        office = found.get(("street_office", street), -1)
        for k, c in enumerate(cats):
            scope = street if c.handling_level == "street" else street[:6]
            out[i, k] = found.get((c.department_type.value, scope), office)
    return out


def case_days(*, cases: int, start: date, days: int, seed: int) -> I64:
    """The day index of every case, sorted: weekday > weekend/holiday, by season, growing."""
    import chinese_calendar

    weights = np.empty(days)
    for i in range(days):
        d = start + timedelta(days=i)
        weekend = d.weekday() >= 5
        try:
            work = bool(chinese_calendar.is_workday(d))
        except NotImplementedError:  # a year the calendar does not know: plain weekends
            work = not weekend
        day_w = WEEKDAY_W[d.weekday()] if work != weekend else (1.0 if work else 0.58)
        weights[i] = day_w * MONTH_W[d.month - 1] * (0.8 + 0.2 * i / max(days - 1, 1))
    counts = np.random.default_rng([seed, 0]).multinomial(cases, weights / weights.sum())
    return np.repeat(np.arange(days, dtype=np.int64), counts)


@dataclass
class Clock:
    """Text of UTC instants as SQLAlchemy keeps them on SQLite (PostgreSQL reads it as UTC)."""

    first_day: int  # days since the epoch
    days: OBJ = field(init=False)
    tod: OBJ = field(init=False)

    def __post_init__(self) -> None:
        span = np.arange(self.first_day, self.first_day + 60 * 366).astype("datetime64[D]")
        self.days = np.strings.add(np.datetime_as_string(span), " ").astype(object)
        s = np.arange(86400)
        self.tod = _objects(
            [
                f"{h:02d}:{m:02d}:{x:02d}.000000"
                for h, m, x in zip(s // 3600, s // 60 % 60, s % 60, strict=True)
            ]
        )

    def text(self, secs: I64, ok: BOOL) -> list[Any]:
        day, tod = np.divmod(np.where(ok, secs, self.first_day * 86400), 86400)
        text = self.days[day - self.first_day] + self.tod[tod]
        return list(np.where(ok, text, _NONE).tolist())


def _opt(values: Any, ok: BOOL) -> list[Any]:
    return list(np.where(ok, np.asarray(values).astype(object), _NONE).tolist())


def _member(groups: tuple[I64, I64, I64], key: I64, u: F64, ok: BOOL) -> I64:
    """A random member of group ``key`` (or -1 where not ``ok`` or the group is empty)."""
    flat, start, count = groups
    k = np.clip(key, 0, len(count) - 1) if len(count) else np.zeros_like(key)
    n = count[k] if len(count) else np.zeros_like(key)
    has = ok & (key >= 0) & (n > 0)
    pick = (
        start[k] + np.minimum((u * n).astype(np.int64), np.maximum(n - 1, 0)) if len(count) else k
    )
    return np.where(has, flat[np.where(has, pick, 0)] if len(flat) else -1, -1).astype(np.int64)


@dataclass
class Batch:
    """One batch of cases as columns; ``rows()`` gives tuples in ``COLUMNS`` order."""

    cols: dict[str, Any]
    times: dict[str, tuple[I64, BOOL]]

    def rows(self, clock: Clock) -> list[tuple[Any, ...]]:
        texts = [clock.text(*self.times[name]) for name in TIMES]
        return list(zip(*(self.cols[c] for c in COLUMNS[: -len(TIMES)]), *texts, strict=True))


def generate_batch(
    city: City, *, ids: I64, day: I64, day0: int, now: int, seed: int, batch: int, digest: Any
) -> Batch:
    """The cases ``ids`` reported on days ``day`` (sorted) after ``day0``, as seen at ``now``."""
    rng = np.random.default_rng([seed, 1, batch])
    n = len(ids)

    def e(mean: float) -> I64:
        return rng.exponential(mean, n).astype(np.int64)

    tod = _pick(_cdf(HOUR_W), rng.random(n)) * 3600 + rng.integers(0, 3600, n)
    rep = np.sort(day0 + day * 86400 + tod)
    pl, ct = _pick(city.place_cdf, rng.random(n)), _pick(city.cat_cdf, rng.random(n))
    ch = _pick(_cdf(CHANNEL_W), rng.random(n))
    auto = city.cat_auto[ct] & TRUSTED[ch] & (rng.random(n) < 0.8)
    void, shelve = rng.random(n) < VOID_P, rng.random(n) < SHELVE_P
    returned, rework = rng.random(n) < RETURN_P, rng.random(n) < REWORK_P
    late = rng.random(n) < np.where(rework, REWORK_LATE_P, LATE_P)
    limit = city.cat_limit[ct]
    frac = np.where(late, 1.02 + rng.exponential(0.6, n), rng.uniform(0.15, 0.97, n))
    dur = np.maximum((limit * frac).astype(np.int64), 300)
    acc = rep + np.where(auto, 0, 30 + e(600))
    fil = acc + np.where(auto, 0, 60 + e(1200))
    dsp = fil + np.where(auto, 0, 60 + e(900))
    ret = np.where(returned, dsp + 300 + e(3600), NEVER)
    redsp = np.where(returned, ret + 300 + e(1800), dsp)  # the dispatch that counts
    start = redsp + np.minimum(60 + e(1800), dur // 2)
    hand = redsp + dur
    ver = hand + 120 + e(2400)
    clo = ver + 60 + e(1800)
    evl = np.where(rng.random(n) < EVALUATED_P[ch], clo + 600 + e(69_120), NEVER)
    vd = np.where(void, acc + 120 + e(1800), NEVER)
    shelve &= ~void
    shv = np.where(shelve, start + limit // 2, NEVER)
    fil, dsp, ret, redsp, start = (np.where(void, NEVER, t) for t in (fil, dsp, ret, redsp, start))
    hand, ver, clo, evl = (np.where(void | shelve, NEVER, t) for t in (hand, ver, clo, evl))
    stages = (vd, shv, evl, clo, ver, hand, start, redsp, ret, dsp, fil, acc)
    status = np.select([now >= t for t in stages], list(STAGES), default="reported")

    seen_dsp, seen_hand, seen_evl = now >= dsp, now >= hand, now >= evl
    dsp_at = np.where(now >= redsp, redsp, dsp)
    deadline = dsp_at + limit
    on_time = hand <= deadline
    running = np.isin(status, ("dispatched", "in_progress", "returned"))
    overdue = np.where(seen_hand, ~on_time, running & (now > deadline))
    warned = overdue | (seen_dsp & (np.minimum(hand, now) - dsp_at > limit * 0.8))
    u = rng.random(n)
    sat = 1 + np.where(
        on_time, _pick(_cdf(SATISFACTION_W[0]), u), _pick(_cdf(SATISFACTION_W[1]), u)
    )
    latest = np.max(np.stack([np.where(now >= t, t, rep) for t in stages]), axis=0)
    dept = np.where(seen_dsp, city.dept[city.place_street[pl], ct], -1)
    worker = _member(city.workers, dept, rng.random(n), seen_dsp & (status != "returned"))
    reporter = _member(city.inspectors, city.place_street[pl], rng.random(n), (ch == 0) | (ch == 5))
    lat = np.round(city.place_xy[pl, 0] + (rng.random(n) * 2 - 1) * city.place_xy[pl, 2], 6)
    lng = np.round(city.place_xy[pl, 1] + (rng.random(n) * 2 - 1) * city.place_xy[pl, 3], 6)
    reworks = np.where(seen_hand & rework, 1 + (rng.random(n) < 0.15), 0)
    ones, zeros = [1] * n, [0] * n
    times = {
        "reported_at": (rep, rep >= 0),
        "accepted_at": (acc, now >= acc),
        "filed_at": (fil, now >= fil),
        "dispatched_at": (dsp_at, seen_dsp),
        "started_at": (start, now >= start),
        "handled_at": (hand, seen_hand),
        "verified_at": (ver, now >= ver),
        "closed_at": (clo, now >= clo),
        "evaluated_at": (evl, seen_evl),
        "deadline_at": (deadline, seen_dsp),
        "next_check_at": (np.maximum(deadline, now), running),
        "updated_at": (latest, rep >= 0),
    }
    for part in (
        ids,
        pl,
        ct,
        ch,
        status.astype("U11"),
        lat,
        lng,
        dept,
        worker,
        reporter,
        reworks,
        sat * seen_evl,
        *(np.where(ok, t, -1) for t, ok in times.values()),
    ):
        digest.update(np.ascontiguousarray(part).tobytes())
    cols = {
        "id": ids.tolist(),
        "kind": city.cat_text["kind"][ct].tolist(),
        "category_code": city.cat_text["code"][ct].tolist(),
        "major_code": city.cat_text["major"][ct].tolist(),
        "catalogue_version": ones,
        "title": city.cat_text["name"][ct].tolist(),
        "description": city.cat_text["description"][ct].tolist(),
        "channel": CHANNELS[ch].tolist(),
        "status": status.tolist(),
        "closing_type": _opt(np.where(on_time, "normal", "overdue"), now >= clo),
        "lat": lat.tolist(),
        "lng": lng.tolist(),
        **{
            f"{k}_code": city.place_text[k][pl].tolist()
            for k in ("district", "street", "community", "grid")
        },
        "address": city.place_text["address"][pl].tolist(),
        "reporter_staff_id": _opt(reporter, reporter >= 0),
        "department_id": _opt(dept, dept >= 0),
        "handling_level": _opt(city.cat_text["level"][ct], dept >= 0),
        "worker_id": _opt(worker, worker >= 0),
        "time_limit": _opt(city.cat_text["limit"][ct], seen_dsp),
        "handled_on_time": _opt(on_time, seen_hand),
        "handling_seconds": _opt((hand - dsp_at).astype(float), seen_hand),
        "extension_count": zeros,
        "rework_count": reworks.tolist(),
        "return_count": (returned & (now >= ret)).astype(np.int64).tolist(),
        "escalation_level": overdue.astype(np.int64).tolist(),
        "near_overdue_warned": warned.tolist(),
        "self_handled": [False] * n,
        "auto_filed": auto.tolist(),
        "satisfaction": _opt(sat, seen_evl),
        "report_count": ones,
        "version": ones,
    }
    return Batch(cols, times)


@dataclass
class _Load:
    """One import: its inputs, and what it learns while generating (digest, open cases)."""

    city: City
    days: I64
    day0: int
    now: int
    seed: int
    first_id: int = 0
    sha256: str = ""
    open_cases: dict[int, int] = field(default_factory=dict)

    def generate(self) -> Iterator[list[tuple[Any, ...]]]:
        """Row lists in id order; counts each worker's open cases (派遣/处置中) on the way."""
        clock, digest = Clock(self.day0 // 86400 - 1), hashlib.sha256()
        for lo in range(0, len(self.days), BATCH):
            hi = min(lo + BATCH, len(self.days))
            ids = np.arange(self.first_id + lo, self.first_id + hi, dtype=np.int64)
            batch = generate_batch(
                self.city,
                ids=ids,
                day=self.days[lo:hi],
                day0=self.day0,
                now=self.now,
                seed=self.seed,
                batch=lo // BATCH,
                digest=digest,
            )
            for w, s in zip(batch.cols["worker_id"], batch.cols["status"], strict=True):
                if w is not None and s in ("dispatched", "in_progress"):
                    self.open_cases[w] = self.open_cases.get(w, 0) + 1
            yield batch.rows(clock)
        self.sha256 = digest.hexdigest()

    def batches(self, progress: Progress_ | None) -> Iterator[list[tuple[Any, ...]]]:
        """The rows, generated in a helper process for a large load so writing never waits."""
        source = self._from_helper() if len(self.days) >= PARALLEL_FROM else self.generate()
        for rows in source:
            yield rows
            if progress is not None:
                progress(len(rows))

    def _from_helper(self) -> Iterator[list[tuple[Any, ...]]]:
        ctx = multiprocessing.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        helper = ctx.Process(target=_produce, args=(self, send), daemon=True)
        helper.start()
        send.close()
        try:
            while True:
                try:
                    kind, body = receive.recv()
                except EOFError:
                    raise RuntimeError("the history generator process died") from None
                if kind == "done":
                    self.sha256, self.open_cases = body
                    return
                yield body
        finally:
            receive.close()
            helper.join(timeout=5)
            if helper.is_alive():
                helper.terminate()

    def staff_updates(self) -> list[tuple[int, int]]:
        return [(k, w) for w, k in sorted(self.open_cases.items())]


def _produce(load: _Load, send: Any) -> None:
    """Helper process: generate and send every batch, then the digest and open-case counts."""
    for rows in load.generate():
        send.send(("rows", rows))
    send.send(("done", (load.sha256, load.open_cases)))
    send.close()


def _indexes(engine: Engine) -> list[tuple[str, str]]:
    """(drop, create) statements of the case table's secondary indexes."""
    table: Any = Case.__table__
    return [
        (f'DROP INDEX IF EXISTS "{ix.name}"', str(CreateIndex(ix).compile(dialect=engine.dialect)))
        for ix in sorted(table.indexes, key=lambda i: str(i.name))
    ]


def _rebuild(engine: Engine, count: int, existing: int) -> list[tuple[str, str]]:
    return _indexes(engine) if count >= REBUILD_INDEXES_FROM and count >= existing else []


def _load_sqlite(engine: Engine, load: _Load, count: int, progress: Progress_ | None) -> None:
    raw = engine.raw_connection()
    try:
        db: Any = raw.driver_connection
        db.execute("PRAGMA foreign_keys=OFF")  # ids come from the tables themselves
        db.execute("PRAGMA cache_size=-262144")
        db.execute("PRAGMA threads=2")  # sorter helper threads for CREATE INDEX
        db.execute("BEGIN IMMEDIATE")
        try:
            last, existing = db.execute(
                'SELECT coalesce(max(id), 0), count(*) FROM "case"'
            ).fetchone()
            load.first_id = int(last) + 1
            indexes = _rebuild(engine, count, int(existing))
            for drop, _ in indexes:
                db.execute(drop)
            for rows in load.batches(progress):
                db.executemany(_INSERT, rows)
            for _, create in indexes:
                db.execute(create)
            db.executemany(
                "UPDATE staff SET open_cases = open_cases + ? WHERE id = ?", load.staff_updates()
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("PRAGMA analysis_limit=2000")
        db.execute('ANALYZE "case"')
    finally:
        raw.invalidate()  # the load's PRAGMAs do not go back to the pool


def _load_postgres(engine: Engine, load: _Load, count: int, progress: Progress_ | None) -> None:
    raw = engine.raw_connection()
    try:
        db: Any = raw.driver_connection
        with db.cursor() as cur:
            cur.execute("SET LOCAL TimeZone = 'UTC'")
            cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
            cur.execute('LOCK TABLE "case" IN EXCLUSIVE MODE')  # readers go on, writers wait
            cur.execute('SELECT coalesce(max(id), 0), count(*) FROM "case"')
            last, existing = cur.fetchone()
            load.first_id = int(last) + 1
            indexes = _rebuild(engine, count, int(existing))
            for drop, _ in indexes:
                cur.execute(drop)
            with cur.copy(f'COPY "case" ({", ".join(COLUMNS)}) FROM STDIN') as copy:
                for rows in load.batches(progress):
                    for row in rows:
                        copy.write_row(row)
            for _, create in indexes:
                cur.execute(create)
            cur.executemany(
                "UPDATE staff SET open_cases = open_cases + %s WHERE id = %s", load.staff_updates()
            )
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), "
                '(SELECT max(id) FROM "case"))'
            )
        db.commit()
        with db.cursor() as cur:
            cur.execute('ANALYZE "case"')
        db.commit()
    except BaseException:
        raw.invalidate()
        raise
    finally:
        raw.close()


def load_cases(
    *,
    engine: Engine,
    cases: int,
    years: int,
    until: date,
    seed: int,
    progress: Progress_ | None = None,
    time_zone: str = "Asia/Shanghai",
    at: datetime | None = None,
) -> int:
    """Write ``cases`` cases reported over the ``years`` years before ``until``; returns the count.

    ``progress`` is called with the number of rows just generated. The ledger entry is appended
    in its own transaction after the rows are committed, at ``at`` (default: now).
    """
    if isinstance(cases, bool) or not isinstance(cases, int) or not 0 <= cases <= 100_000_000:
        raise ValidationFailed(f"cases must be 0…100,000,000, not {cases!r}", code="bad_count")
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 30:
        raise ValidationFailed(f"years must be 1…30, not {years!r}", code="bad_years")
    tz = ZoneInfo(time_zone)
    try:
        first = until.replace(year=until.year - years)
    except ValueError:  # 29 February
        first = until.replace(year=until.year - years, day=28)
    with Session(engine) as session:
        city = read_city(session, load_catalogue(), seed)
    load = _Load(
        city=city,
        days=case_days(cases=cases, start=first, days=(until - first).days, seed=seed),
        day0=int(datetime(first.year, first.month, first.day, tzinfo=tz).timestamp()),
        now=int(datetime(until.year, until.month, until.day, tzinfo=tz).timestamp()),
        seed=seed,
    )
    if cases:
        (_load_sqlite if engine.dialect.name == "sqlite" else _load_postgres)(
            engine, load, cases, progress
        )
    with transaction(make_session_factory(engine)) as session:
        ledger.append(
            session=session,
            at=at or datetime.now(UTC),
            actor="system:import",
            action="import_history",
            subject="import:history",
            payload={
                "count": cases,
                "first_id": load.first_id if cases else None,
                "last_id": load.first_id + cases - 1 if cases else None,
                "seed": seed,
                "years": years,
                "until": until.isoformat(),
                "sha256": load.sha256 or hashlib.sha256().hexdigest(),
            },
        )
    return cases


def load_history(
    *, settings: Settings, cases: int, years: int, until: date, seed: int, console: Console | None
) -> int:
    """Load history into the configured database, with a progress bar when given a console."""
    engine = make_engine(settings.database_url)
    try:
        if console is None:
            return load_cases(
                engine=engine,
                cases=cases,
                years=years,
                until=until,
                seed=seed,
                time_zone=settings.time_zone,
            )
        columns = (
            TextColumn("历史案件 history"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("cases", total=cases)
            n = load_cases(
                engine=engine,
                cases=cases,
                years=years,
                until=until,
                seed=seed,
                time_zone=settings.time_zone,
                progress=lambda k: bar.advance(task, k),
            )
        console.print(f"loaded {n:,} historical cases ({years} years before {until})")
        return n
    finally:
        engine.dispose()

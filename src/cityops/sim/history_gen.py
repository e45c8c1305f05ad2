"""Historical case generation: the city as arrays, and batches of whole case timelines.

``read_city`` turns the map, catalogue, departments and staff into arrays once; then
``generate_batch`` draws a batch of cases with numpy alone (no database), deterministic per
seed and batch number, so a helper process can generate while the caller writes. What is
approximated, and why, is listed in ``cityops.sim.history``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases.categories import Catalogue
from cityops.errors import ValidationFailed
from cityops.geo.cells import cells_of
from cityops.geo.models import Jurisdiction
from cityops.registry.models import Department, Staff, StaffRole

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BOOL = npt.NDArray[np.bool_]
OBJ = npt.NDArray[np.object_]


def _words(text: str) -> list[str]:
    return text.split()


BATCH = 20_000
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
    closing_type lat lng geo_cell address district_code street_code community_code grid_code
    reporter_staff_id department_id handling_level worker_id time_limit handled_on_time
    handling_seconds extension_count rework_count return_count escalation_level
    near_overdue_warned self_handled auto_filed satisfaction report_count version"""),
    *TIMES,
)
_NONE = np.array(None, dtype=object)


def objects(values: list[Any]) -> OBJ:
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
    cats = catalogue.public()
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
            "district": objects(district),
            "street": objects(street_of),
            "community": objects([r[0] if r[2] == "community" else r[5] for r in places]),
            "grid": objects([r[0] if r[2] == "grid" else None for r in places]),
            "address": objects(address),
        },
        place_street=pstreet,
        place_xy=np.array(
            [(r[6], r[7], (r[8] or 0.004) * 0.3, (r[9] or 0.004) * 0.3) for r in places],
            dtype=float,
        ),
        place_cdf=_cdf(weight),
        cat_text={
            "kind": objects([c.kind.value for c in cats]),
            "code": objects([c.code for c in cats]),
            "major": objects([c.major_code for c in cats]),
            "name": objects([c.name for c in cats]),
            "description": objects([f"{c.name}（历史案件）" for c in cats]),
            "level": objects([c.handling_level for c in cats]),
            "limit": objects([str(c.time_limit) for c in cats]),
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
    """One batch of cases as columns: values by column, and ``TIMES`` as (seconds, present)."""

    cols: dict[str, Any]
    times: dict[str, tuple[I64, BOOL]]


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
    hashed = (ids, pl, ct, ch, status.astype("U11"), lat, lng, dept, worker, reporter, reworks)
    for part in (*hashed, sat * seen_evl, *(np.where(ok, t, -1) for t, ok in times.values())):
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
        "geo_cell": cells_of(lat, lng).tolist(),
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

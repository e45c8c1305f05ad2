"""River and basin grades over a period (流域水质), and a river's month-by-month trend.

A section's values are its stations' period means averaged; its class is the single-factor class
of those. A river with fewer than 5 assessed sections averages its sections' concentrations and
grades that class; with more, the share-of-sections rule grades it (``period.river_grades``).
The basin row does the same over every section the caller sees. Sections without a station (or
without data in the period) count in ``sections`` but not in ``assessed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.scope import Principal
from cityops.errors import ValidationFailed
from cityops.scenarios.river import period as pe
from cityops.scenarios.river import quality
from cityops.scenarios.river.evaluate import WaterClass
from cityops.scenarios.river.models import River, Section
from cityops.scenarios.river.registry import visible
from cityops.scenarios.river.schemas import BasinRead, BasinRow, ItemInfo, TrendMonth, TrendRead
from cityops.scenarios.river.standards import WaterBody
from cityops.scenarios.river.stations import GB_ITEMS, PLAN

MAX_MONTHS = 36  # API limit of a trend
_METHODS: dict[int, Literal["average", "share"]] = {pe.AVERAGE: "average", pe.SHARE: "share"}
_CLASS_LABELS = tuple(c.label for c in WaterClass)


def _sections(
    session: Session, user: Principal, river_id: int | None = None
) -> list[tuple[Section, River]]:
    q = (
        select(Section, River)
        .join(River, Section.river_id == River.id)
        .where(visible(user))
        .order_by(River.code, Section.code)
    )
    if river_id is not None:
        q = q.where(River.id == river_id)
    return list(session.execute(q))


def _section_means(
    session: Session,
    user: Principal,
    sections: Sequence[tuple[Section, River]],
    edges: Sequence[datetime],
    end: datetime,
    river_id: int | None = None,
) -> pe.Floats:
    """(sections, periods, GB items): each section's stations' means averaged."""
    index = {s.id: n for n, (s, _) in enumerate(sections)}
    found = [
        site
        for site in quality.sites(session=session, user=user, river_id=river_id)
        if site.section.id in index
    ]
    sums, counts = quality.period_sums(
        session=session, sites=found, items=GB_ITEMS, edges=edges, end=end
    )
    means = pe.means(sums, counts).transpose(0, 2, 1)
    groups = np.array([index[site.section.id] for site in found], dtype=np.intp)
    return pe.group_means(means, groups, len(sections))


def _grade(
    sections: Sequence[tuple[Section, River]], means: pe.Floats, groups: pe.Ints, n: int
) -> tuple[pe.RiverGrades, pe.Ints]:
    """River grades per group and each section's class (per period)."""
    lake = np.array([s.water_body == WaterBody.lake for s, _ in sections], dtype=bool)
    classes = pe.overall(pe.classify(means, GB_ITEMS, lake[:, None]), GB_ITEMS)
    lake_of = np.zeros(n, dtype=bool)
    lake_of[groups[lake]] = True  # a group with a lake section averages on the lake table
    return pe.river_grades(classes, means, groups, n, GB_ITEMS, lake=lake_of), classes


def _row(code: str, name: str, sections: int, g: pe.RiverGrades, r: int, attained: int) -> BasinRow:
    method = int(g.method[r, 0])
    return BasinRow(
        code=code, name=name, sections=sections, assessed=int(g.assessed[r, 0]),
        class_counts=dict(zip(_CLASS_LABELS, (int(c) for c in g.class_counts[r, 0]), strict=True)),
        good_share=quality.rounded(g.good_share[r, 0]),
        worst_share=quality.rounded(g.worst_share[r, 0]),
        method=_METHODS.get(method), water_class=pe.label(int(g.water_class[r, 0])),
        grade=pe.grade_label(int(g.grade[r, 0])), attained=attained,
    )  # fmt: skip


def basin(
    *, session: Session, user: Principal, start: date | None, end: date | None, now: datetime
) -> BasinRead:
    """Per river in the caller's jurisdiction, and for all of them, the period's grade."""
    span = quality.resolve_period(start=start, end=end, now=now)
    sections = _sections(session, user)
    means = _section_means(session, user, sections, [span.start_utc], span.end_utc)
    codes = sorted({r.code for _, r in sections})
    river_of = {c: i for i, c in enumerate(codes)}
    groups = np.array([river_of[r.code] for _, r in sections], dtype=np.intp)
    by_river, classes = _grade(sections, means, groups, len(codes))
    whole, _ = _grade(sections, means, np.zeros(len(sections), dtype=np.intp), 1)
    targets = np.array([WaterClass.parse(s.target_class) for s, _ in sections], dtype=np.int8)
    met = pe.attained(classes[:, 0], targets)
    names = {r.code: r.name for _, r in sections}
    per_river = np.bincount(groups, minlength=len(codes))
    met_per_river = np.bincount(groups, weights=met.astype(np.float64), minlength=len(codes))
    rows = [
        _row(c, names[c], int(per_river[i]), by_river, i, int(met_per_river[i]))
        for i, c in enumerate(codes)
    ]
    total = _row("all", "全流域", len(sections), whole, 0, int(met.sum()))
    return BasinRead(start=span.start, end=span.end, rivers=rows, basin=total)


def _month_starts(now: datetime, months: int) -> list[date]:
    today = now.astimezone(quality.CST).date()
    y, m = today.year, today.month
    out = []
    for _ in range(months):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), quality.CST).astimezone(UTC)


def trends(
    *, session: Session, user: Principal, river: str, months: int, now: datetime
) -> TrendRead:
    """The river's class, grade and per-item means month by month (the current month so far)."""
    if not 1 <= months <= MAX_MONTHS:
        raise ValidationFailed(f"months is 1..{MAX_MONTHS}", code="bad_months")
    row = quality.river_by_code(session=session, code=river)
    sections = _sections(session, user, row.id)
    starts = _month_starts(now, months)
    last = starts[-1]
    after = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    means = _section_means(session, user, sections, [_utc(d) for d in starts], _utc(after), row.id)
    g, _ = _grade(sections, means, np.zeros(len(sections), dtype=np.intp), 1)
    out = []
    for p, start in enumerate(starts):
        method = int(g.method[0, p])
        out.append(
            TrendMonth(
                month=f"{start:%Y-%m}", assessed=int(g.assessed[0, p]),
                method=_METHODS.get(method), water_class=pe.label(int(g.water_class[0, p])),
                grade=pe.grade_label(int(g.grade[0, p])),
                good_share=quality.rounded(g.good_share[0, p]),
                means={k: quality.rounded(g.means[0, p, j]) for j, k in enumerate(GB_ITEMS)},
            )
        )  # fmt: skip
    items = [ItemInfo(item=k, name=PLAN.items[k].name, unit=PLAN.items[k].unit) for k in GB_ITEMS]
    return TrendRead(river_code=row.code, river_name=row.name, items=items, months=out)

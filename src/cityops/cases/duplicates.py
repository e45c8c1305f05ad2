"""Duplicate reports (重复案件): the same category within a radius and time window is one case.

A compact batch is checked with one query over its bounding box; a spread-out one (or a box
with too many open cases) with one query per report on the (category_code, lat) index. Every
report is also checked against the batch's earlier reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Float, Integer, String, and_, bindparam, column, select, values
from sqlalchemy.orm import Session

from cityops.cases.dispatch import haversine_m
from cityops.cases.lifecycle import OPEN_STATES
from cityops.cases.models import Case
from cityops.cases.rules import CaseRules

BOX_LIMIT = 5000  # open cases read at once for a batch's duplicate check
COMPACT_DEG = 0.02  # a batch within about 2 km is checked with one query


class Report(Protocol):
    """What the check needs of a report; it sets ``link_to`` or ``link_item``."""

    lat: float
    lng: float
    link_to: int | None
    link_item: int | None

    @property
    def category_code(self) -> str: ...


_NEARBY_OPEN = (
    select(Case.id, Case.lat, Case.lng)
    .where(
        Case.category_code == bindparam("cat"),
        Case.lat.between(bindparam("lat0"), bindparam("lat1")),
        Case.lng.between(bindparam("lng0"), bindparam("lng1")),
        Case.reported_at >= bindparam("since"),
        Case.status.in_(sorted(OPEN_STATES)),
    )
    .order_by(Case.reported_at)
    .limit(50)
)


def _near(a: Report, lat: float, lng: float, radius: float) -> bool:
    if abs(a.lat - lat) * 111_320.0 > radius:  # cheap test first: most pairs are far apart
        return False
    return haversine_m(a.lat, a.lng, lat, lng) <= radius


_OPEN_IN_BOX = (
    select(Case.id, Case.category_code, Case.lat, Case.lng)
    .where(
        Case.category_code.in_(bindparam("cats", expanding=True)),
        Case.lat.between(bindparam("lat0"), bindparam("lat1")),
        Case.lng.between(bindparam("lng0"), bindparam("lng1")),
        Case.reported_at >= bindparam("since"),
        Case.status.in_(sorted(OPEN_STATES)),
    )
    .order_by(Case.reported_at)
    .limit(BOX_LIMIT + 1)
)


def _open_nearby(
    session: Session, items: Sequence[Report], dlat: float, dlng: float, since: datetime
) -> dict[str, list[tuple[int, float, float]]] | None:
    """Open cases that could repeat any report of the batch (one query), or None if too many."""
    rows = session.execute(
        _OPEN_IN_BOX,
        {
            "cats": sorted({it.category_code for it in items}),
            "lat0": min(it.lat for it in items) - dlat,
            "lat1": max(it.lat for it in items) + dlat,
            "lng0": min(it.lng for it in items) - dlng,
            "lng1": max(it.lng for it in items) + dlng,
            "since": since,
        },
    ).all()
    if len(rows) > BOX_LIMIT:
        return None
    found: dict[str, list[tuple[int, float, float]]] = {}
    for case_id, cat, lat, lng in rows:
        found.setdefault(cat, []).append((case_id, lat, lng))
    return found


def find_duplicates(
    *, session: Session, rules: CaseRules, items: Sequence[Report], at: datetime
) -> None:
    """重复案件: same category within radius and window, in the database or earlier in the batch."""
    if not items:
        return
    radius = rules.settings.duplicate_radius_m
    since = at - timedelta(hours=rules.settings.duplicate_window_hours)
    dlat = radius / 111_320.0
    dlng = radius / (
        111_320.0 * max(math.cos(math.radians(max(abs(it.lat) for it in items))), 0.01)
    )
    lats, lngs = [it.lat for it in items], [it.lng for it in items]
    compact = max(lats) - min(lats) <= COMPACT_DEG and max(lngs) - min(lngs) <= COMPACT_DEG
    # One query for a compact batch; a batch spread over districts asks per report (each a
    # narrow band of the (category_code, lat) index) rather than read a district's open cases.
    known = _open_nearby(session, items, dlat, dlng, since) if compact else None
    per_report: dict[int, list[tuple[int, float, float]]] | None = None
    for i, it in enumerate(items):
        for j in range(i):
            first = items[j]
            if (
                first.link_to is None
                and first.link_item is None
                and first.category_code == it.category_code
                and _near(first, it.lat, it.lng, radius)
            ):
                it.link_item = j
                break
        if it.link_item is not None:
            continue
        if known is not None:
            nearby: Any = known.get(it.category_code, ())
        else:  # spread out, or a crowded box: each report's own box
            if per_report is None:
                per_report = _per_report(session, items, dlat, dlng, since)
            nearby = per_report.get(i, ())
        for case_id, lat, lng in nearby:
            if _near(it, lat, lng, radius):
                it.link_to = case_id
                break


def _per_report(
    session: Session, items: Sequence[Report], dlat: float, dlng: float, since: datetime
) -> dict[int, list[tuple[int, float, float]]]:
    """Open cases in each report's own box, by report index.

    PostgreSQL gets one statement (a VALUES list joined to the cases: one round trip); SQLite,
    which runs in process and has no VALUES column aliases, one indexed query per report.
    """
    found: dict[int, list[tuple[int, float, float]]] = {}
    if session.get_bind().dialect.name == "postgresql":
        boxes = values(
            column("idx", Integer),
            column("cat", String),
            column("lat0", Float),
            column("lat1", Float),
            column("lng0", Float),
            column("lng1", Float),
            name="box",
        ).data(
            [
                (i, it.category_code, it.lat - dlat, it.lat + dlat, it.lng - dlng, it.lng + dlng)
                for i, it in enumerate(items)
            ]
        )
        stmt = (
            select(boxes.c.idx, Case.id, Case.lat, Case.lng)
            .select_from(boxes)
            .join(
                Case,
                and_(
                    Case.category_code == boxes.c.cat,
                    Case.lat.between(boxes.c.lat0, boxes.c.lat1),
                    Case.lng.between(boxes.c.lng0, boxes.c.lng1),
                ),
            )
            .where(Case.reported_at >= since, Case.status.in_(sorted(OPEN_STATES)))
            .order_by(Case.reported_at)
        )
        for idx, case_id, lat, lng in session.execute(stmt):
            found.setdefault(idx, []).append((case_id, lat, lng))
        return found
    for i, it in enumerate(items):
        rows = session.execute(
            _NEARBY_OPEN,
            {
                "cat": it.category_code,
                "lat0": it.lat - dlat,
                "lat1": it.lat + dlat,
                "lng0": it.lng - dlng,
                "lng1": it.lng + dlng,
                "since": since,
            },
        )
        found[i] = [(case_id, lat, lng) for case_id, lat, lng in rows]
    return found

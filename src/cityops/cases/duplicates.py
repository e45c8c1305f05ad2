"""Duplicate reports (重复案件): the same category within a radius and time window is one case.

Every case carries the cell of its point (``geo.cells``). A batch is checked with one query:
the (category, cell) pairs of the 3×3 cells around each report, an exact probe of the
``(category_code, geo_cell, reported_at)`` index each, bounded to the window. Its size does not
grow with the history. Each report is also checked against the batch's earlier reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import BigInteger, ColumnElement, String, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from cityops.cases.dispatch import haversine_m
from cityops.cases.lifecycle import OPEN_STATES
from cityops.cases.models import Case
from cityops.cases.rules import CaseRules
from cityops.geo.cells import cells_around

_OPEN = sorted(OPEN_STATES)


class Report(Protocol):
    """What the check needs of a report; it sets ``link_to`` or ``link_item``."""

    lat: float
    lng: float
    link_to: int | None
    link_item: int | None

    @property
    def category_code(self) -> str: ...


def _near(a: Report, lat: float, lng: float, radius: float) -> bool:
    if abs(a.lat - lat) * 111_320.0 > radius:  # cheap test first: most pairs are far apart
        return False
    return haversine_m(a.lat, a.lng, lat, lng) <= radius


def _among(session: Session, pairs: list[tuple[str, int]]) -> ColumnElement[bool]:
    """``(category, cell) IN pairs``; on PostgreSQL as two arrays, so the statement stays one
    short text the server plans once, instead of a list of hundreds of literals to parse."""
    key = tuple_(Case.category_code, Case.geo_cell)
    if session.get_bind().dialect.name != "postgresql":
        return key.in_(pairs)
    cats = bindparam("cats", [c for c, _ in pairs], type_=ARRAY(String))
    cells = bindparam("cells", [g for _, g in pairs], type_=ARRAY(BigInteger))
    given = func.unnest(cats, cells).table_valued("cat", "cell").render_derived()
    return key.in_(select(given.c.cat, given.c.cell))


def _open_around(
    session: Session, items: Sequence[Report], radius: float, since: datetime, at: datetime
) -> dict[tuple[str, int], list[tuple[int, float, float]]]:
    """Open cases reported in the window, in the cells around any report, by (category, cell)."""
    pairs = sorted(
        {(it.category_code, c) for it in items for c in cells_around(it.lat, it.lng, radius)}
    )
    rows = session.execute(
        select(Case.id, Case.category_code, Case.geo_cell, Case.lat, Case.lng)
        .where(
            _among(session, pairs),
            Case.reported_at >= since,
            Case.reported_at <= at,
            Case.status.in_(_OPEN),
        )
        .order_by(Case.reported_at)
    )
    found: dict[tuple[str, int], list[tuple[int, float, float]]] = {}
    for case_id, cat, cell, lat, lng in rows:
        if cell is None:
            continue
        found.setdefault((cat, cell), []).append((case_id, lat, lng))
    return found


def find_duplicates(
    *, session: Session, rules: CaseRules, items: Sequence[Report], at: datetime
) -> None:
    """重复案件: same category within radius and window, in the database or earlier in the batch."""
    if not items:
        return
    radius = rules.settings.duplicate_radius_m
    since = at - timedelta(hours=rules.settings.duplicate_window_hours)
    known = _open_around(session, items, radius, since, at)
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
        candidates = sorted(
            (
                row
                for c in cells_around(it.lat, it.lng, radius)
                for row in known.get((it.category_code, c), ())
            ),
        )
        for case_id, lat, lng in candidates:  # the oldest open case wins
            if _near(it, lat, lng, radius):
                it.link_to = case_id
                break

"""Duplicate reports (重复案件): the same category within a radius and time window is one case.

Every case carries the cell of its point (``geo.cells``). A batch is checked with one query:
the (category, cell) pairs of the 3×3 cells around each report, an exact probe of the
``(category_code, geo_cell, reported_at)`` index each, bounded to the window. Its size does not
grow with the history. Each report is also checked against the batch's earlier reports.

Radius and window are the category's own (``duplicate_radius_m``/``duplicate_window_hours`` in
the catalogue) or the global settings. ``nearby`` is the same lookup for a resident who has not
filed yet (是同一个问题吗？).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Select, Table, bindparam, literal_column, select
from sqlalchemy.orm import Session

from cityops.cases.dispatch import haversine_m
from cityops.cases.lifecycle import OPEN_STATES
from cityops.cases.models import Case
from cityops.cases.rules import CaseRules
from cityops.errors import NotFound
from cityops.geo.cells import cells_around
from cityops.store.bulk import pairs_join, pairs_params

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


def limits(rules: CaseRules, category_code: str) -> tuple[float, float]:
    """(radius in metres, window in hours) of the category: its own, or the global settings."""
    radius, hours = rules.settings.duplicate_radius_m, rules.settings.duplicate_window_hours
    try:
        category = rules.catalogue.get(category_code)
    except NotFound:
        return radius, hours
    return category.duplicate_radius_m or radius, category.duplicate_window_hours or hours


Row = tuple[int, float, float, datetime]

_CASES = cast(Table, Case.__table__)
# The probe's statement, built once per dialect (the pairs are a parameter): building it per
# batch cost more Python than the query itself for a single report.
_PROBES: dict[str, Select[*tuple[Any, ...]]] = {}


def _probe(dialect: str) -> Select[*tuple[Any, ...]]:
    found = _PROBES.get(dialect)
    if found is None:
        c = _CASES.c
        stmt = select(c.id, c.category_code, c.geo_cell, c.lat, c.lng, c.reported_at).where(
            c.reported_at >= bindparam("since", type_=c.reported_at.type),
            c.reported_at <= bindparam("at", type_=c.reported_at.type),
            # The open states as literals: an IN parameter is expanded at every execution.
            c.status.in_([literal_column(f"'{state.name}'") for state in _OPEN]),
        )
        found = pairs_join(dialect, stmt, (c.category_code, c.geo_cell)).order_by(c.reported_at)
        _PROBES[dialect] = found
    return found


def _open_around(
    session: Session,
    items: Sequence[Report],
    radii: Sequence[float],
    since: datetime,
    at: datetime,
) -> dict[tuple[str, int], list[Row]]:
    """Open cases reported since ``since``, in the cells around any report, by (category, cell)."""
    pairs = sorted(
        {
            (it.category_code, c)
            for it, radius in zip(items, radii, strict=True)
            for c in cells_around(it.lat, it.lng, radius)
        }
    )
    dialect = session.get_bind().dialect.name
    params = {"since": since, "at": at, **pairs_params(dialect, pairs)}
    found: dict[tuple[str, int], list[Row]] = {}
    for case_id, cat, cell, lat, lng, reported_at in session.execute(_probe(dialect), params):
        if cell is None:
            continue
        found.setdefault((cat, cell), []).append((case_id, lat, lng, reported_at))
    return found


def find_duplicates(
    *, session: Session, rules: CaseRules, items: Sequence[Report], at: datetime
) -> None:
    """重复案件: same category within radius and window, in the database or earlier in the batch."""
    if not items:
        return
    rule = {code: limits(rules, code) for code in {it.category_code for it in items}}
    radii = [rule[it.category_code][0] for it in items]
    since = at - timedelta(hours=max(hours for _, hours in rule.values()))
    known = _open_around(session, items, radii, since, at)
    earlier: dict[str, list[int]] = {}  # category → the batch's reports that stand on their own
    for i, it in enumerate(items):
        if it.link_to is not None:  # the resident chose the case (duplicate_of)
            continue
        code = it.category_code
        radius, hours = rule[code]
        for j in earlier.get(code, ()):
            if _near(items[j], it.lat, it.lng, radius):
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
        start = at - timedelta(hours=hours)
        for case_id, lat, lng, reported_at in candidates:  # the oldest open case wins
            if reported_at >= start and _near(it, lat, lng, radius):
                it.link_to = case_id
                break
        if it.link_to is None:
            earlier.setdefault(code, []).append(i)


def nearby(
    *,
    session: Session,
    rules: CaseRules,
    category_code: str,
    lat: float,
    lng: float,
    at: datetime,
    limit: int = 20,
) -> list[tuple[Case, float]]:
    """Open cases of the category within its radius and window of the point, nearest first,
    each with its distance in metres: what a resident is offered before filing."""
    radius, hours = limits(rules, category_code)
    stmt = select(Case).where(
        Case.category_code == category_code,
        Case.geo_cell.in_(cells_around(lat, lng, radius)),
        Case.reported_at >= at - timedelta(hours=hours),
        Case.reported_at <= at,
        Case.status.in_(_OPEN),
    )
    found = [(c, haversine_m(lat, lng, c.lat, c.lng)) for c in session.execute(stmt).scalars()]
    near = sorted(((c, d) for c, d in found if d <= radius), key=lambda p: (p[1], p[0].id))
    return near[:limit]

"""City components (部件): listing, lookup, nearby search, state, new 17-digit identifiers.

Keyword-only, session passed in; functions flush, the caller commits.
"""

from __future__ import annotations

import itertools
import math
import re
from datetime import date

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from cityops.errors import Conflict, NotFound, ValidationFailed
from cityops.registry.models import Component, ComponentState
from cityops.registry.service import (
    MAX_LIMIT,
    Page,
    check_code_prefix,
    check_point,
    get_department,
    paginate,
)

COMPONENT_IDENT = re.compile(r"^\d{17}$")  # 管理部件标识码: county 6 + major 2 + minor 3 + seq 6
CATEGORY_CODE = re.compile(r"^\d{5}$")
METRES_PER_DEGREE = 111_320.0
EARTH_RADIUS_M = 6_371_008.8


def check_component_ident(ident: str) -> str:
    """Refuse anything that is not a 17-digit 管理部件标识码."""
    if not COMPONENT_IDENT.match(ident):
        raise ValidationFailed(
            f"component ident {ident!r} must be 17 digits (county 6 + class 5 + sequence 6)",
            code="bad_component_ident",
        )
    return ident


def component_scope(prefix: str) -> ColumnElement[bool]:
    """Components carry district, street and grid codes; match on the level the prefix names."""
    if len(prefix) <= 6:
        return Component.district_code.startswith(prefix)
    if len(prefix) <= 9:
        return Component.street_code.startswith(prefix)
    return Component.grid_code.startswith(prefix)


def component_place(component: Component) -> str | None:
    """The most specific jurisdiction code of a component (for scope checks)."""
    return component.grid_code or component.street_code or component.district_code


def list_components(
    *,
    session: Session,
    within: str | None = None,
    category_code: str | None = None,
    state: ComponentState | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Component]:
    stmt = select(Component)
    if (prefix := check_code_prefix(within)) is not None:
        stmt = stmt.where(component_scope(prefix))
    if category_code is not None:
        stmt = stmt.where(Component.category_code == category_code)
    if state is not None:
        stmt = stmt.where(Component.state == state)
    return paginate(session, stmt, Component.id, cursor, limit)


def get_component(*, session: Session, ident: str) -> Component:
    check_component_ident(ident)
    found = session.execute(select(Component).where(Component.ident == ident)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"component {ident} does not exist", code="component_not_found")
    return found


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def components_near(
    *,
    session: Session,
    lat: float,
    lng: float,
    radius_m: float,
    category_code: str | None = None,
    within: str | None = None,
    limit: int = 50,
) -> list[tuple[Component, float]]:
    """Components within ``radius_m`` of a point, nearest first (bounding-box prefilter in SQL)."""
    check_point(lat, lng)
    if not 0 < radius_m <= 10_000:
        raise ValidationFailed("radius must be in (0, 10000] metres", code="bad_radius")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be 1..{MAX_LIMIT}", code="bad_limit")
    dlat = radius_m / METRES_PER_DEGREE
    dlng = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 1e-6))
    stmt = select(Component).where(
        Component.lat.between(lat - dlat, lat + dlat), Component.lng.between(lng - dlng, lng + dlng)
    )
    if category_code is not None:
        stmt = stmt.where(Component.category_code == category_code)
    if (prefix := check_code_prefix(within)) is not None:
        stmt = stmt.where(component_scope(prefix))
    hits = [(c, distance_m(lat, lng, c.lat, c.lng)) for c in session.execute(stmt).scalars()]
    hits = [h for h in hits if h[1] <= radius_m]
    hits.sort(key=lambda h: (h[1], h[0].id))
    return hits[:limit]


def set_component_state(*, session: Session, ident: str, state: ComponentState) -> Component:
    """Mark a 部件 完好/破损/丢失/废弃/移除."""
    component = get_component(session=session, ident=ident)
    component.state = state
    session.flush()
    return component


def next_component_ident(*, session: Session, district_code: str, category_code: str) -> str:
    """The next free identifier in a district and class: county 6 + class 5 + sequence 6."""
    prefix = district_code + category_code
    top = session.execute(
        select(func.max(Component.ident)).where(Component.ident.startswith(prefix))
    ).scalar_one_or_none()
    seq = int(top[11:]) + 1 if top else 1
    if seq > 999_999:
        raise Conflict(
            f"no free sequence number left under {prefix}", code="component_sequence_full"
        )
    return f"{prefix}{seq:06d}"


def _check_codes(district: str | None, street: str | None, grid: str | None) -> None:
    chain = [c for c in (district, street, grid) if c]
    for code in chain:
        check_code_prefix(code)
    for parent, child in itertools.pairwise(chain):
        if not child.startswith(parent):
            raise ValidationFailed(
                f"{child} does not lie inside {parent}", code="bad_jurisdiction_code"
            )


def create_component(
    *,
    session: Session,
    name: str,
    category_code: str,
    lat: float,
    lng: float,
    ident: str | None = None,
    district_code: str | None = None,
    street_code: str | None = None,
    grid_code: str | None = None,
    owner_department_id: int | None = None,
    maintainer_department_id: int | None = None,
    state: ComponentState = ComponentState.intact,
    installed_on: date | None = None,
) -> Component:
    """Register a 部件; its ident must agree with its class and county, and be unused."""
    if not CATEGORY_CODE.match(category_code):
        raise ValidationFailed(f"category {category_code!r} must be 5 digits", code="bad_category")
    check_point(lat, lng)
    district_code = district_code or (street_code or grid_code or ident or "")[:6] or None
    if district_code is None or len(district_code) != 6:
        raise ValidationFailed(
            "a component needs its 6-digit county code", code="bad_jurisdiction_code"
        )
    _check_codes(district_code, street_code, grid_code)
    if ident is None:
        ident = next_component_ident(
            session=session, district_code=district_code, category_code=category_code
        )
    check_component_ident(ident)
    if ident[:6] != district_code or ident[6:11] != category_code:
        raise ValidationFailed(
            f"ident {ident} must start with county {district_code} and class {category_code}",
            code="component_ident_mismatch",
        )
    for dept_id in (owner_department_id, maintainer_department_id):
        if dept_id is not None:
            get_department(session=session, department_id=dept_id)
    if session.execute(select(Component.id).where(Component.ident == ident)).first() is not None:
        raise Conflict(f"component {ident} already exists", code="duplicate_component")
    component = Component(
        ident=ident, name=name, category_code=category_code, lat=lat, lng=lng,
        district_code=district_code, street_code=street_code, grid_code=grid_code,
        owner_department_id=owner_department_id, maintainer_department_id=maintainer_department_id,
        state=state, installed_on=installed_on,
    )  # fmt: skip
    session.add(component)
    session.flush()
    return component

"""Cockpit routes: a jurisdiction's vital signs and the map's point layers (thin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.cases.queries import parse_bbox
from cityops.cases.runtime import get_rules
from cityops.cockpit import points as layers
from cityops.cockpit import service
from cityops.cockpit.schemas import PointsRead, SummaryRead
from cityops.errors import NotFound

router = APIRouter(tags=["cockpit"])

ScopeCode = Annotated[
    str | None, Query(description="a jurisdiction code; default your own (city-wide: the city)")
]


@router.get("/cockpit/summary", response_model=SummaryRead)
def summary(
    ctx: Ctx, session: SessionDep, user: CurrentUser, scope: ScopeCode = None
) -> SummaryRead:
    """体征: today's cases, open and overdue, this month's rates, alarms, 30 days, the ranking.

    For city admins, district dispatchers and street staff, within their jurisdiction.
    """
    user.require_role(*service.COCKPIT_ROLES)
    where = service.resolve_scope(session=session, user=user, code=scope)
    catalogue = get_rules(ctx, session).catalogue

    def name_of(code: str) -> str:
        try:
            return catalogue.get(code).name
        except NotFound:
            return code

    return service.summary(
        session=session, scope=where, now=ctx.clock.now(), tz=ctx.settings.tz, category_name=name_of
    )


@router.get(
    "/map/points",
    response_class=Response,
    responses={200: {"model": PointsRead, "description": "columnar points"}},
)
def map_points(
    ctx: Ctx,
    session: SessionDep,
    user: CurrentUser,
    layer: layers.Layer,
    bbox: Annotated[str | None, Query(description="minLng,minLat,maxLng,maxLat")] = None,
    scope: ScopeCode = None,
    limit: Annotated[int, Query(ge=1, le=layers.MAX_LIMIT)] = layers.DEFAULT_LIMIT,
) -> Response:
    """One layer's points (部件, devices, open cases, active alarms) as columns for a canvas."""
    box = parse_bbox(bbox)
    prefix = None
    if scope is not None:
        where = service.resolve_scope(session=session, user=user, code=scope)
        prefix = None if where.is_city else where.code
    body = layers.points(
        session=session, user=user, layer=layer, area=layers.Area(prefix, box), limit=limit,
        now=ctx.clock.now(),
    )  # fmt: skip
    return Response(body, media_type="application/json")

"""HTTP routes of 医药价格智治 (/api/v1/medicare/prices, /stock/{id}/price): outliers against
the reference prices and the district median, rankings, the price map, a row's price history,
the daily check run on demand, and setting a pharmacy's price.

Reads and the check are for the insurance bureau's analysts (医保分析员) and the city admin; a
district's analysts see their district (``access.py``) and the check is city-wide work.
Setting a price is the pharmacy's side: the city admin acts for it (there is no pharmacy role
yet), as for delivery status.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.cases.runtime import get_rules
from cityops.scenarios.medicare import price_check, price_read
from cityops.scenarios.medicare.access import (
    district_for,
    require_city_wide,
    require_stock_in_scope,
)

router = APIRouter(prefix="/medicare", tags=["medicare"])
District = Annotated[str | None, Query(pattern=r"^\d{6}$", description="district adcode")]
Product = Annotated[str | None, Query(min_length=1, max_length=40, description="a drug code")]


class PriceIn(BaseModel):
    pric: int = Field(gt=0, le=100_000_000, description="price per pack, fen")
    reason: str = Field(default="", max_length=200)


@router.get("/prices/outliers")
def outliers(
    ctx: Ctx, session: SessionDep, user: CurrentUser, district: District = None,
    product: Product = None, min_ratio: Annotated[float | None, Query(ge=-1, le=100)] = None,
    page: Annotated[int, Query(ge=1)] = 1, size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:  # fmt: skip
    """Prices over a tolerance, largest deviation first, with each reference and ratio."""
    district = district_for(user, district)
    market = price_read.load(
        session=session, settings=ctx.settings, district=district, product=product
    )
    return price_read.outliers(market=market, min_ratio=min_ratio, page=page, size=size)


@router.get("/prices/ranking")
def ranking(
    ctx: Ctx, session: SessionDep, user: CurrentUser, district: District = None,
    by: Literal["pharmacy", "product"] = "pharmacy",
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:  # fmt: skip
    """Pharmacies or 四同 products with the most flagged prices, then the largest mean deviation."""
    district = district_for(user, district)
    market = price_read.load(session=session, settings=ctx.settings, district=district)
    return price_read.ranking(market=market, by=by, limit=limit)


@router.get("/prices/map")
def price_map(
    ctx: Ctx, session: SessionDep, user: CurrentUser, district: District = None,
    product: Product = None,
) -> dict[str, Any]:  # fmt: skip
    """GeoJSON points, one per pharmacy, with its flagged count and deviation."""
    district = district_for(user, district)
    market = price_read.load(
        session=session, settings=ctx.settings, district=district, product=product
    )
    return price_read.price_map(market=market)


@router.get("/prices/history")
def history(
    session: SessionDep, user: CurrentUser, stock_id: Annotated[int, Query(ge=1)]
) -> dict[str, Any]:
    """A stock row's price changes, oldest first."""
    require_stock_in_scope(session, user, stock_id)
    return price_read.history(session=session, stock_id=stock_id)


@router.post("/prices/check")
def check(ctx: Ctx, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Run today's price check now; persistent outliers open supervision cases (once each)."""
    require_city_wide(user)
    return price_check.run_check(
        session=session, settings=ctx.settings, rules=get_rules(ctx, session), at=ctx.clock.now()
    )


@router.put("/stock/{stock_id}/price")
def set_price(
    stock_id: int, body: PriceIn, ctx: Ctx, session: SessionDep, user: CurrentUser
) -> dict[str, Any]:
    """Set a pharmacy's price of a code (per pack, fen); the change is kept in its history."""
    user.require_role(Role.city_admin)
    price_check.set_price(
        session=session, stock_id=stock_id, pric=body.pric, reason=body.reason,
        actor=user.actor, at=ctx.clock.now(),
    )  # fmt: skip
    session.flush()
    return price_read.history(session=session, stock_id=stock_id)

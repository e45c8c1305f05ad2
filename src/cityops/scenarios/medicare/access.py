"""Who among the bureau's staff sees what: the city bureau (市医保局) and a district's (区县医保局).

An insurance analyst without a scope works city-wide, like the city admin. An analyst whose
account has a district scope (six digits) sees the price governance and the clues of that
district only: a query for another district is refused, a query for none is narrowed to theirs.
City-wide work (the supervision run, whose peer fences span the city, and the daily price check)
is for city-wide analysts.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.errors import Forbidden
from cityops.scenarios.medicare.models import Clue, Fixmedins, Stock

ANALYSTS = (Role.city_admin, Role.insurance_analyst)


def own_district(user: Principal) -> str | None:
    """The district an analyst is limited to, or None for the city bureau and the admin."""
    user.require_role(*ANALYSTS)
    if user.role == Role.insurance_analyst and user.scope_code:
        return user.scope_code[:6]
    return None


def district_for(user: Principal, requested: str | None) -> str | None:
    """The district a query may cover: the requested one, or the analyst's own."""
    own = own_district(user)
    if own is None or requested in (None, own):
        return own or requested
    raise Forbidden(
        f"district {requested} is outside your jurisdiction ({own})", code="outside_jurisdiction"
    )


def require_city_wide(user: Principal) -> None:
    if own_district(user) is not None:
        raise Forbidden("only the city bureau's analysts run city-wide work", code="city_wide_only")


def require_clue_in_scope(session: Session, user: Principal, clue_id: int) -> None:
    """A district analyst acts on the clues of their district (an unknown id is left to 404)."""
    own = own_district(user)
    if own is None:
        return
    district = session.execute(select(Clue.district).where(Clue.id == clue_id)).scalar()
    if district is not None and district != own:
        raise Forbidden(f"clue {clue_id} is outside your jurisdiction", code="outside_jurisdiction")


def require_stock_in_scope(session: Session, user: Principal, stock_id: int) -> None:
    own = own_district(user)
    if own is None:
        return
    district = session.execute(
        select(Fixmedins.admdvs)
        .join(Stock, Stock.fixmedins_id == Fixmedins.id)
        .where(Stock.id == stock_id)
    ).scalar()
    if district is not None and district != own:
        raise Forbidden(
            f"stock {stock_id} is outside your jurisdiction", code="outside_jurisdiction"
        )

"""HTTP routes of 渝药易购 (/api/v1/medicare): find a medicine, compare nearby offers, order
and pay, refund, follow the delivery.

Search and offers are open (price comparison needs no login). Orders need a login: a resident
pays only for insured persons linked to their account (``medicare_insured.user_id``); a city
administrator may act for anyone (the pharmacy desk, support, tests).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.api.deps import Ctx, CurrentUser, SessionDep, reads_first
from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.errors import Forbidden, ValidationFailed
from cityops.scenarios.medicare import order_read, orders, search
from cityops.scenarios.medicare.models import InsuredPerson, Order
from cityops.scenarios.medicare.offer_index import OfferIndex
from cityops.scenarios.medicare.offers import SortKey
from cityops.scenarios.medicare.schemas import DrugList, OfferList, OrderIn, OrderRead, StatusIn
from cityops.scenarios.medicare.settle_queue import SettlementQueue

router = APIRouter(prefix="/medicare", tags=["medicare"])
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
_INDEX = "medicare_offers"
_QUEUE = "medicare_settle_queue"


def offer_index(ctx: Ctx) -> OfferIndex:
    index = ctx.extras.get(_INDEX)
    if index is None:
        index = ctx.extras.setdefault(_INDEX, OfferIndex(ctx.settings.medicare_index_ttl_s))
    assert isinstance(index, OfferIndex)
    return index


def _key(raw: str | None) -> str:
    key = (raw or "").strip()
    if not key or len(key) > 100:
        raise ValidationFailed(
            "send an Idempotency-Key header (1–100 characters) with every payment and refund",
            code="idempotency_key_required",
        )
    return key


def _may_act_for(session: Session, user: Principal, psn_no: str) -> None:
    if user.role == Role.city_admin:
        return
    owner = session.scalar(select(InsuredPerson.user_id).where(InsuredPerson.psn_no == psn_no))
    if user.role != Role.resident or owner != user.user_id:
        raise Forbidden("you may pay only for your own insured persons", code="not_your_account")


@router.get("/drugs", response_model=DrugList)
def drugs(
    session: SessionDep, q: Annotated[str, Query(min_length=1, max_length=60)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DrugList:  # fmt: skip
    """Search the catalogue by generic name, pinyin initials (``AMXL``) or drug code (prefix)."""
    return search.find_drugs(session=session, q=q, limit=limit)


@router.get("/offers", response_model=OfferList)
def offers(
    ctx: Ctx,
    session: SessionDep,
    product: Annotated[str, Query(min_length=1, max_length=40, description="a drug code")],
    lat: Annotated[float, Query(ge=-90, le=90)],
    lng: Annotated[float, Query(ge=-180, le=180)],
    sort: SortKey = SortKey.price,
    limit: Annotated[int, Query(ge=1)] = 20,
) -> OfferList:
    """The nearest open pharmacies with the same product (四同) in stock, any pack, by
    unit price, distance or delivery estimate."""
    return search.find_offers(
        session=session, index=offer_index(ctx), settings=ctx.settings, product=product,
        lat=lat, lng=lng, sort=sort, limit=min(limit, ctx.settings.medicare_offers_max),
        now=ctx.clock.now(),
    )  # fmt: skip


def settlement_queue(ctx: Ctx) -> SettlementQueue:
    """This app's payment queue (one per process), made on first use."""
    queue = ctx.extras.get(_QUEUE)
    if queue is None:
        queue = ctx.extras.setdefault(
            _QUEUE, SettlementQueue(sessions=ctx.sessions, settings=ctx.settings, clock=ctx.clock)
        )
    assert isinstance(queue, SettlementQueue)
    return queue


@router.post("/orders", response_model=OrderRead)
@reads_first
def place_order(
    body: OrderIn, ctx: Ctx, session: SessionDep, user: CurrentUser, idem: IdemKey = None
) -> OrderRead:
    """Order and pay: own personal account, then a bound relative's (家庭共济), then cash.

    Paid through the process's settlement queue, in one transaction with the payments that
    arrive meanwhile (group commit); this request's own session only reads (the login, whose
    account) and ends before the order is handed over, so it waits holding no lock.
    """
    key = _key(idem)
    _may_act_for(session, user, body.psn_no)
    session.rollback()
    return settlement_queue(ctx).pay(orders.PayRequest(body, key, user.actor))


def _own_order(session: Session, user: Principal, order_no: str) -> Order:
    order = order_read.get_order(session=session, order_no=order_no)
    _may_act_for(session, user, order.psn_no)
    return order


@router.get("/orders/{order_no}", response_model=OrderRead)
def get_order(order_no: str, session: SessionDep, user: CurrentUser) -> OrderRead:
    """The order with its settlements (setl_d) and fee lines (fee_list_d, 追溯码)."""
    return order_read.read_order(session, _own_order(session, user, order_no))


@router.post("/orders/{order_no}/refund", response_model=OrderRead)
def refund(
    order_no: str, ctx: Ctx, session: SessionDep, user: CurrentUser, idem: IdemKey = None
) -> OrderRead:
    """Refund in full to where the money came from (refused once refunded or dispensed)."""
    key = _key(idem)
    _own_order(session, user, order_no)
    return order_read.refund(
        session=session, order_no=order_no, idem_key=key, now=ctx.clock.now(), actor=user.actor
    )


@router.post("/orders/{order_no}/status", response_model=OrderRead)
def set_status(
    order_no: str, body: StatusIn, ctx: Ctx, session: SessionDep, user: CurrentUser
) -> OrderRead:
    """Delivery progress (the pharmacy's side): delivering, delivered, picked_up."""
    user.require_role(Role.city_admin)
    return order_read.set_status(
        session=session, order_no=order_no, status=body.status, now=ctx.clock.now(),
        actor=user.actor,
    )  # fmt: skip

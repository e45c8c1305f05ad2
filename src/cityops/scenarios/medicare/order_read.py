"""Read an order with its settlements and fee lines; refund it; move its delivery status.

A refund (退费) is allowed while the drugs have not been handed over (``paid`` or
``delivering``): dispensed medicine is not taken back (药品除质量问题外一经售出不得退换). It
returns every fen where it came from (own account, each relative's account, cash), puts the packs
back in stock, writes a reversing settlement (negated amounts, ``orig_setl_id``) and flags the
original ``refd_setl_flag = 1``, all in one transaction with a ledger entry. A refund is keyed
too: the same key replays, a different key on a refunded order is refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cityops.errors import Conflict, IllegalTransition, NotFound
from cityops.ledger import service as ledger
from cityops.scenarios.medicare.models import (
    Account,
    FeeLine,
    Fixmedins,
    Order,
    OrderStatus,
    Settlement,
    Stock,
)
from cityops.scenarios.medicare.schemas import FeeLineRead, OrderRead, SettlementRead

_NEXT = {
    (OrderStatus.paid, OrderStatus.delivering): True,  # delivery orders only
    (OrderStatus.delivering, OrderStatus.delivered): True,
    (OrderStatus.paid, OrderStatus.picked_up): False,  # pick-up orders only
}


def read_order(session: Session, order: Order, *, replayed: bool = False) -> OrderRead:
    setls = list(
        session.scalars(
            select(Settlement).where(Settlement.order_id == order.id).order_by(Settlement.id)
        )
    )
    lines = list(
        session.scalars(
            select(FeeLine)
            .where(FeeLine.setl_id.in_([s.setl_id for s in setls]))
            .order_by(FeeLine.id)
        )
    )
    shop = session.get(Fixmedins, order.fixmedins_id)
    return OrderRead(
        order_no=order.order_no, status=order.status, psn_no=order.psn_no,
        fixmedins_code=shop.fixmedins_code if shop else "", delivery=order.delivery,
        distance_m=order.distance_m, eta_minutes=order.eta_minutes, created_at=order.created_at,
        updated_at=order.updated_at, replayed=replayed,
        settlements=[SettlementRead.model_validate(s) for s in setls],
        fee_lines=[
            FeeLineRead(
                hilist_code=f.hilist_code, hilist_name=f.hilist_name, list_type=f.list_type,
                cnt=f.cnt, pric=f.pric, det_item_fee_sumamt=f.det_item_fee_sumamt,
                trace_codes=f.trace_codes.split(",") if f.trace_codes else [],
            )
            for f in lines
        ],
    )  # fmt: skip


def _locked_order(session: Session, order_no: str) -> Order:
    order = session.scalar(
        select(Order)
        .where(Order.order_no == order_no)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound("no order with this number", code="unknown_order")
    session.refresh(order)  # a lock waited for may have let another transaction change it
    return order


def get_order(*, session: Session, order_no: str) -> Order:
    order = session.scalar(select(Order).where(Order.order_no == order_no))
    if order is None:
        raise NotFound("no order with this number", code="unknown_order")
    return order


def refund(
    *, session: Session, order_no: str, idem_key: str, now: datetime, actor: str
) -> OrderRead:
    """Reverse the order's settlement in full, or refuse with the reason."""
    order = _locked_order(session, order_no)
    if order.refund_key == idem_key:
        return read_order(session, order, replayed=True)
    if order.status == OrderStatus.refunded:
        raise Conflict("this order has already been refunded", code="already_refunded")
    if order.status not in (OrderStatus.paid, OrderStatus.delivering):
        raise IllegalTransition(
            "dispensed medicine is not refunded", code="already_dispensed", status=order.status
        )
    orig = session.scalar(
        select(Settlement).where(Settlement.order_id == order.id, Settlement.orig_setl_id.is_(None))
    )
    assert orig is not None  # every paid order has its settlement
    lines = list(session.scalars(select(FeeLine).where(FeeLine.setl_id == orig.setl_id)))
    stock_ids = sorted(f.stock_id for f in lines)
    list(
        session.scalars(
            select(Stock)
            .where(Stock.id.in_(stock_ids))
            .order_by(Stock.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    back: dict[str, int] = {}
    if orig.acct_pay:
        back[orig.psn_no] = orig.acct_pay
    for psn_no, amount in orig.mulaid_detail:
        back[str(psn_no)] = back.get(str(psn_no), 0) + int(amount)
    accounts = list(
        session.scalars(
            select(Account)
            .where(Account.psn_no.in_(back))
            .order_by(Account.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    for f in lines:
        session.execute(
            update(Stock).where(Stock.id == f.stock_id)
            .values(qty=Stock.qty + f.cnt, version=Stock.version + 1),
            execution_options={"synchronize_session": False},
        )  # fmt: skip
    own_after = 0
    for acct in accounts:
        session.execute(
            update(Account).where(Account.id == acct.id)
            .values(balc=Account.balc + back[acct.psn_no], version=Account.version + 1),
            execution_options={"synchronize_session": False},
        )  # fmt: skip
        if acct.psn_no == orig.psn_no:
            own_after = acct.balc + back[acct.psn_no]
        session.expire(acct)
    reverse = Settlement(
        setl_id="R" + uuid.uuid4().hex[:20].upper(), mdtrt_id=orig.mdtrt_id, order_id=order.id,
        psn_no=orig.psn_no, insutype=orig.insutype, med_type=orig.med_type,
        medfee_sumamt=-orig.medfee_sumamt, fulamt_ownpay_amt=-orig.fulamt_ownpay_amt,
        inscp_amt=-orig.inscp_amt, hifp_pay=0, fund_pay_sumamt=0,
        psn_part_amt=-orig.psn_part_amt, acct_pay=-orig.acct_pay,
        acct_mulaid_pay=-orig.acct_mulaid_pay, mulaid_psn_no=orig.mulaid_psn_no,
        mulaid_detail=[[p, -int(a)] for p, a in orig.mulaid_detail],
        psn_cash_pay=-orig.psn_cash_pay, balc=own_after, refd_setl_flag="1",
        orig_setl_id=orig.setl_id, setl_time=now, fixmedins_code=orig.fixmedins_code,
        insu_admdvs=orig.insu_admdvs,
    )  # fmt: skip
    session.add(reverse)
    orig.refd_setl_flag = "1"
    order.status, order.refund_key, order.updated_at = OrderStatus.refunded, idem_key, now
    session.flush()
    ledger.append(
        session=session, at=now, actor=actor, action="medicare.refund",
        subject=f"medicare_order:{order.order_no}",
        payload={
            "setl_id": reverse.setl_id, "orig_setl_id": orig.setl_id,
            "acct_pay": orig.acct_pay, "acct_mulaid": orig.mulaid_detail,
            "psn_cash_pay": orig.psn_cash_pay,
        },
    )  # fmt: skip
    return read_order(session, order)


def set_status(
    *, session: Session, order_no: str, status: OrderStatus, now: datetime, actor: str
) -> OrderRead:
    """Delivery progress: paid → delivering → delivered, or paid → picked_up."""
    order = _locked_order(session, order_no)
    needs_delivery = _NEXT.get((order.status, status))
    if needs_delivery is None or needs_delivery != order.delivery:
        raise IllegalTransition(
            f"an order cannot go from {order.status} to {status}", code="illegal_status",
            current=order.status, wanted=status,
        )  # fmt: skip
    order.status, order.updated_at = status, now
    session.flush()
    ledger.append(
        session=session, at=now, actor=actor, action=f"medicare.{status.value}",
        subject=f"medicare_order:{order.order_no}", payload={"status": status.value},
    )  # fmt: skip
    return read_order(session, order)

"""渝药易购 for the logged-in resident (/api/v1/medicare/me): the insured persons this login may
pay for, each with its balance and the relatives whose accounts are bound to it (家庭共济), and
the orders of those persons, newest first; and the 家庭共济 bindings this login provides or
benefits from, made and cancelled here by the provider (``mulaid``).

A relative is someone else's personal data: the name is masked (李*英) and the 个人编号 shows
only its last four characters; the balance of the relative's account is not shown.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.scenarios.medicare import credits, mulaid
from cityops.scenarios.medicare.masking import mask_name, mask_no
from cityops.scenarios.medicare.models import (
    Account,
    Fixmedins,
    InsuredPerson,
    MutualAidBinding,
    Order,
    Settlement,
)
from cityops.scenarios.medicare.schemas import BindingIn, BindingList, BindingRead

router = APIRouter(prefix="/medicare/me", tags=["medicare"])


@router.get("/persons")
def persons(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """My insured persons with their own balance, recent account credits (个人账户划入) and
    bound relatives (masked)."""
    user.require_role(Role.resident)
    mine = session.scalars(
        select(InsuredPerson).where(InsuredPerson.user_id == user.user_id)
        .order_by(InsuredPerson.psn_no)
    ).all()  # fmt: skip
    nos = [p.psn_no for p in mine]
    balances = dict(
        session.execute(select(Account.psn_no, Account.balc).where(Account.psn_no.in_(nos))).all()
    )
    bound = session.execute(
        select(MutualAidBinding.beneficiary_psn_no, MutualAidBinding.relation,
               InsuredPerson.psn_no, InsuredPerson.psn_name)
        .join(InsuredPerson, InsuredPerson.psn_no == MutualAidBinding.provider_psn_no)
        .where(MutualAidBinding.beneficiary_psn_no.in_(nos), MutualAidBinding.ended_at.is_(None))
        .order_by(MutualAidBinding.bound_at, MutualAidBinding.id)
    ).all()  # fmt: skip
    credited = credits.recent_credits(session=session, psn_nos=nos)
    return {
        "items": [
            {
                "psn_no": p.psn_no, "psn_name": p.psn_name, "insutype": p.insutype,
                "balc": balances.get(p.psn_no),
                "credits": [
                    {"period": c.period, "kind": c.kind.value, "amount": c.amount,
                     "balc_after": c.balc_after, "credited_at": c.credited_at.isoformat()}
                    for c in credited if c.psn_no == p.psn_no
                ],
                "relatives": [
                    {"psn_no": mask_no(no), "psn_name": mask_name(name), "relation": rel.value}
                    for ben, rel, no, name in bound if ben == p.psn_no
                ],
            }
            for p in mine
        ]
    }  # fmt: skip


@router.get("/orders")
def my_orders(
    session: SessionDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> dict[str, Any]:
    """My persons' orders, newest first, with the pharmacy and what each account paid."""
    user.require_role(Role.resident)
    rows = session.execute(
        select(Order, Fixmedins.fixmedins_name)
        .join(InsuredPerson, InsuredPerson.psn_no == Order.psn_no)
        .join(Fixmedins, Fixmedins.id == Order.fixmedins_id)
        .where(InsuredPerson.user_id == user.user_id)
        .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)
    ).all()  # fmt: skip
    paid = {
        s.order_id: s
        for s in session.scalars(
            select(Settlement).where(
                Settlement.order_id.in_([o.id for o, _ in rows]), Settlement.orig_setl_id.is_(None)
            )
        )
    }
    return {
        "items": [
            {
                "order_no": o.order_no, "status": o.status.value, "psn_no": o.psn_no,
                "fixmedins_name": name, "delivery": o.delivery, "eta_minutes": o.eta_minutes,
                "created_at": o.created_at.isoformat(), "updated_at": o.updated_at.isoformat(),
                "medfee_sumamt": paid[o.id].medfee_sumamt if o.id in paid else None,
                "acct_pay": paid[o.id].acct_pay if o.id in paid else None,
                "acct_mulaid_pay": paid[o.id].acct_mulaid_pay if o.id in paid else None,
                "psn_cash_pay": paid[o.id].psn_cash_pay if o.id in paid else None,
            }
            for o, name in rows
        ]
    }  # fmt: skip


@router.get("/bindings", response_model=BindingList)
def bindings(session: SessionDep, user: CurrentUser, include_ended: bool = False) -> BindingList:
    """家庭共济 bindings I provide or benefit from; the other party masked."""
    user.require_role(Role.resident)
    return mulaid.list_bindings(session=session, user_id=user.user_id, include_ended=include_ended)


@router.post("/bindings", response_model=BindingRead, status_code=201)
def bind(body: BindingIn, ctx: Ctx, session: SessionDep, user: CurrentUser) -> BindingRead:
    """Bind a close relative to my personal account (I am the provider)."""
    user.require_role(Role.resident)
    return mulaid.bind(
        session=session, settings=ctx.settings, user_id=user.user_id, body=body,
        now=ctx.clock.now(), actor=user.actor,
    )  # fmt: skip


@router.delete("/bindings/{binding_id}", response_model=BindingRead)
def cancel(binding_id: int, ctx: Ctx, session: SessionDep, user: CurrentUser) -> BindingRead:
    """Cancel a binding I provide; it ends now and stays in the history."""
    user.require_role(Role.resident)
    return mulaid.cancel(
        session=session, user_id=user.user_id, binding_id=binding_id, now=ctx.clock.now(),
        actor=user.actor,
    )  # fmt: skip

"""The demo's 渝药易购 market: a demo-sized synthetic market (``cityops sim medicare --size
demo``) and the demo resident's insured persons, so the resident story works at once.

The ``resident`` login pays for 张小雨 (职工, ¥20.00 in her own account) whose mother 李秀英
(职工, ¥800.00) has bound her account to her (家庭共济): a ¥35 medicine is paid ¥20 from her
own account and ¥15 from her mother's. With the market comes last month's discharges
(``DEMO_DISCHARGES``, grouped and stored) so the DRG month and 分解住院 clues have data.
Idempotent: a re-run loads nothing twice. ``Couriers``
moves the orders along (out for delivery, delivered) since pharmacies have no app yet.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.api.context import AppContext
from cityops.auth.models import Role, User
from cityops.auth.security import hash_password
from cityops.auth.service import create_user
from cityops.scenarios.medicare import discharge_month, order_read, service
from cityops.scenarios.medicare.models import (
    Account,
    Fixmedins,
    InsuredPerson,
    MutualAidBinding,
    Order,
    OrderStatus,
    Relation,
)
from cityops.sim import medicare_discharges, medicare_load, medicare_market
from cityops.store.engine import transaction

RESIDENT, ANALYST = "resident", "analyst"
OWN, RELATIVE = "DEMO500103000001", "DEMO500103000002"
COURIER = "system:demo-courier"
DEMO_DISCHARGES = 2000  # a small month: the demo must start fast (~0.5 s to store and group)


def _last_month(today: date) -> str:
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def seed_medicare(*, ctx: AppContext, password: str, at: datetime) -> str | None:
    """Load the demo market when the tables are empty; link the demo resident's persons; the
    医保分析员 account ``analyst`` with the demo password. Returns a one-line summary of what
    was loaded, or None."""
    summary = None
    with transaction(ctx.sessions) as s:
        _analyst(s, password)
        if not s.scalar(select(func.count()).select_from(Fixmedins)):
            m = medicare_load.seed_market(session=s, size=medicare_market.DEMO)
            month = _last_month(at.astimezone(ctx.settings.tz).date())
            stays = medicare_discharges.store_month(
                session=s, tables=service.medicare(ctx.settings).loaded.tables, month=month,
                cases=DEMO_DISCHARGES, tz=ctx.settings.tz, at=at,
            )  # fmt: skip
            discharge_month.group_month(session=s, settings=ctx.settings, month=month, at=at)
            summary = (
                f"渝药易购: {m.pharmacies} pharmacies, {m.products} products, "
                f"{m.stock_rows} stock rows, {m.persons} insured persons; "
                f"{stays.imported} discharges of {month} grouped"
            )
        link_resident(s, at)
    return summary


def _analyst(session: Session, password: str) -> None:
    user = session.scalar(select(User).where(User.username == ANALYST))
    if user is None:
        create_user(
            session=session, username=ANALYST, password=password, role=Role.insurance_analyst,
            scope_code=None, display_name="医保分析员",
        )  # fmt: skip
    else:
        user.password_hash = hash_password(password)


def link_resident(session: Session, at: datetime) -> None:
    user_id = session.scalar(select(User.id).where(User.username == RESIDENT))
    if user_id is None or session.scalar(
        select(InsuredPerson.id).where(InsuredPerson.psn_no == OWN)
    ):
        return
    session.add_all([
        InsuredPerson(psn_no=OWN, psn_name="张小雨", insutype="310", insu_admdvs="500103",
                      gend="2", brdy=date(1996, 4, 12), user_id=user_id),
        InsuredPerson(psn_no=RELATIVE, psn_name="李秀英", insutype="310", insu_admdvs="500103",
                      gend="2", brdy=date(1968, 9, 3), user_id=None),
    ])  # fmt: skip
    session.flush()
    session.add_all([
        Account(psn_no=OWN, balc=2000, version=0),
        Account(psn_no=RELATIVE, balc=80000, version=0),
        MutualAidBinding(provider_psn_no=RELATIVE, beneficiary_psn_no=OWN,
                         relation=Relation.parent, bound_at=at),
    ])  # fmt: skip


def advance_deliveries(*, session: Session, now: datetime, after: timedelta) -> int:
    """The demo's couriers: an order paid ``after`` ago goes out for delivery (or is picked up),
    one out for ``after`` is delivered. Returns how many orders moved."""
    due = now - after
    rows = session.execute(
        select(Order.order_no, Order.status, Order.delivery).where(
            Order.status.in_([OrderStatus.paid, OrderStatus.delivering]), Order.updated_at <= due
        )
    ).all()
    for no, status, delivery in rows:
        if status is OrderStatus.delivering:
            nxt = OrderStatus.delivered
        else:
            nxt = OrderStatus.delivering if delivery else OrderStatus.picked_up
        order_read.set_status(session=session, order_no=no, status=nxt, now=now, actor=COURIER)
    return len(rows)


class Couriers:
    """A thread moving demo orders along every few seconds (pharmacies have no app yet)."""

    def __init__(self, ctx: AppContext, *, after: timedelta = timedelta(seconds=30)) -> None:
        self.ctx, self.after = ctx, after
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="medicare-couriers")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while not self.stop_event.wait(5.0):
            try:
                with transaction(self.ctx.sessions) as s:
                    advance_deliveries(session=s, now=self.ctx.clock.now(), after=self.after)
            except Exception:
                continue

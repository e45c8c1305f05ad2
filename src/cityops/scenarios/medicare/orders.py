"""Place and pay a 渝药易购 order in one transaction (the caller commits).

Idempotency: the order row, keyed by the ``Idempotency-Key``, is inserted *first*, in a
savepoint. A replay finds it and returns it; a concurrent duplicate blocks on the unique index
(PostgreSQL) or queues behind the writer (SQLite, ``BEGIN IMMEDIATE``) and then finds it, so the
money moves once. A refused order leaves nothing: its transaction rolls back whole.

Locks, always in this order so two payments cannot deadlock: the stock rows (by id), the
accounts (by id), then the ledger head (``ledger.service.append``). On PostgreSQL they are
``SELECT … FOR UPDATE``; on SQLite the writer lock already serialises. Every debit is also a
guarded ``UPDATE … WHERE balc >= :amount`` and the tables carry ``CHECK (≥ 0)``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.errors import Conflict, NotFound, ValidationFailed
from cityops.geo.coords import haversine_m
from cityops.ledger import service as ledger
from cityops.scenarios.medicare import codes, paysplit
from cityops.scenarios.medicare.models import (
    Account,
    Drug,
    FeeLine,
    Fixmedins,
    FixmedinsType,
    InsuredPerson,
    MutualAidBinding,
    Order,
    OrderStatus,
    Settlement,
    Stock,
)
from cityops.scenarios.medicare.order_read import read_order
from cityops.scenarios.medicare.schemas import OrderIn, OrderRead
from cityops.settings import Settings

MED_TYPE_PHARMACY = "41"  # 定点药店购药
CHRGITM = {"western": "09", "patent": "10"}  # 西药费 / 中成药费


def request_hash(body: OrderIn) -> str:
    return hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()


def _replay(session: Session, key: str, digest: str) -> OrderRead | None:
    existing = session.scalar(select(Order).where(Order.idem_key == key))
    if existing is None:
        return None
    if existing.request_hash != digest:
        raise Conflict(
            "this Idempotency-Key was used for a different order", code="idempotency_key_reused"
        )
    return read_order(session, existing, replayed=True)


def _open_at(hours: list[list[int] | None], now_local: datetime) -> bool:
    minute = now_local.hour * 60 + now_local.minute
    today, yesterday = hours[now_local.weekday()], hours[(now_local.weekday() - 1) % 7]
    if today and today[0] <= minute < today[1]:
        return True
    return bool(yesterday and minute + 1440 < yesterday[1])


def _check(
    session: Session, settings: Settings, body: OrderIn, now: datetime
) -> tuple[InsuredPerson, Fixmedins, dict[str, Drug], float | None]:
    """Everything that can be refused before anything is locked."""
    if len(body.lines) > settings.medicare_max_order_lines:
        raise ValidationFailed("too many lines in one order", code="too_many_lines")
    wanted: dict[str, int] = {}
    for line in body.lines:
        try:
            code = codes.parse(line.hilist_code).code
        except codes.BadDrugCode as exc:
            raise ValidationFailed(str(exc), code=f"drug_code_{exc.reason}") from exc
        if code in wanted:
            raise ValidationFailed(f"{code} appears twice; give one line", code="duplicate_line")
        if line.cnt > settings.medicare_max_line_count:
            raise ValidationFailed("too many packs on one line", code="line_count_too_large")
        wanted[code] = line.cnt
    person = session.scalar(select(InsuredPerson).where(InsuredPerson.psn_no == body.psn_no))
    if person is None:
        raise NotFound("no insured person with this psn_no", code="unknown_psn_no")
    shop = session.scalar(select(Fixmedins).where(Fixmedins.fixmedins_code == body.fixmedins_code))
    if shop is None or not shop.active or shop.fixmedins_type != FixmedinsType.pharmacy:
        raise NotFound("no active designated pharmacy with this code", code="unknown_pharmacy")
    if not _open_at(shop.opening_hours, now.astimezone(ZoneInfo(settings.time_zone))):
        raise Conflict("the pharmacy is closed now", code="pharmacy_closed")
    drugs = {
        d.hilist_code: d for d in session.scalars(select(Drug).where(Drug.hilist_code.in_(wanted)))
    }
    for code in wanted:
        if code not in drugs:
            raise NotFound(f"no drug with code {code} in the catalogue", code="unknown_drug_code")
    if settings.medicare_rx_needs_prescription and not body.prescription_no:
        rx = [c for c, d in drugs.items() if d.rx_flag]
        if rx:
            raise ValidationFailed(
                "prescription drugs need an (electronic) prescription number",
                code="prescription_required", codes=rx,
            )  # fmt: skip
    distance = None
    if body.delivery:
        if body.lat is None or body.lng is None:
            raise ValidationFailed("a delivery needs lat and lng", code="delivery_address_missing")
        distance = haversine_m(shop.lng, shop.lat, body.lng, body.lat)
        if shop.delivery_radius_m <= 0 or distance > shop.delivery_radius_m:
            raise Conflict(
                "the address is beyond the pharmacy's delivery radius",
                code="beyond_delivery_radius", distance_m=round(distance),
                delivery_radius_m=shop.delivery_radius_m,
            )  # fmt: skip
    return person, shop, drugs, distance


def _providers(session: Session, settings: Settings, psn_no: str) -> list[str]:
    allowed = {r.strip() for r in settings.medicare_mulaid_relations.split(",") if r.strip()}
    rows = session.execute(
        select(MutualAidBinding.provider_psn_no, MutualAidBinding.relation)
        .where(MutualAidBinding.beneficiary_psn_no == psn_no)
        .order_by(MutualAidBinding.bound_at, MutualAidBinding.id)
    ).all()
    providers = [p for p, rel in rows if str(rel) in allowed]
    return providers[:1] if settings.medicare_mulaid_single_provider else providers


def place_order(
    *, session: Session, settings: Settings, body: OrderIn, idem_key: str, now: datetime,
    actor: str,
) -> OrderRead:  # fmt: skip
    """Check, lock, debit stock and accounts, settle, append to the ledger; or refuse whole."""
    digest = request_hash(body)
    replay = _replay(session, idem_key, digest)
    if replay is not None:
        return replay
    person, shop, drugs, distance = _check(session, settings, body, now)
    order = Order(
        order_no=uuid.uuid4().hex[:20].upper(), idem_key=idem_key, request_hash=digest,
        psn_no=person.psn_no, fixmedins_id=shop.id, status=OrderStatus.paid,
        delivery=body.delivery, distance_m=distance,
        eta_minutes=None if distance is None else round(
            settings.medicare_prep_minutes + distance / settings.medicare_delivery_m_per_min, 1
        ),
        prescription_no=body.prescription_no, created_at=now, updated_at=now,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError:
        replay = _replay(session, idem_key, digest)
        if replay is None:
            raise
        return replay
    counts = {codes.normalise(line.hilist_code): line.cnt for line in body.lines}
    stock = list(
        session.scalars(
            select(Stock)
            .where(Stock.fixmedins_id == shop.id, Stock.drug_id.in_([d.id for d in drugs.values()]))
            .order_by(Stock.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    by_drug = {s.drug_id: s for s in stock}
    total = 0
    for code, drug in drugs.items():
        row = by_drug.get(drug.id)
        if row is None:
            raise Conflict(f"{code} is not sold at this pharmacy", code="not_stocked")
        if row.qty < counts[code]:
            raise Conflict(
                f"only {row.qty} of {code} in stock", code="insufficient_stock",
                hilist_code=code, available=row.qty, wanted=counts[code],
            )  # fmt: skip
        total += row.pric * counts[code]
    inscp = sum(
        by_drug[d.id].pric * counts[c] for c, d in drugs.items() if d.list_type in ("甲", "乙")
    )
    providers = _providers(session, settings, person.psn_no) if body.use_account else []
    owners = ([person.psn_no] if body.use_account else []) + providers
    accounts = {
        a.psn_no: a
        for a in session.scalars(
            select(Account)
            .where(Account.psn_no.in_(owners))
            .order_by(Account.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    own = accounts.get(person.psn_no)
    split = paysplit.split(
        total=total, inscp=inscp if body.use_account else 0,
        own_balance=own.balc if own is not None and body.use_account else 0,
        providers=[(p, accounts[p].balc) for p in providers if p in accounts],
    )  # fmt: skip
    if split.psn_cash_pay and not body.allow_cash:
        raise Conflict(
            "the accounts do not cover the order and cash was not allowed",
            code="insufficient_balance", medfee_sumamt=total,
            account_available=split.acct_pay + split.acct_mulaid_pay,
        )  # fmt: skip
    for code, drug in drugs.items():
        _move_stock(session, by_drug[drug.id].id, -counts[code])
    if split.acct_pay:
        assert own is not None
        _move_balance(session, own.id, -split.acct_pay)
    for psn_no, amount in split.mulaid:
        _move_balance(session, accounts[psn_no].id, -amount)
    setl = Settlement(
        setl_id="S" + uuid.uuid4().hex[:20].upper(), mdtrt_id="M" + uuid.uuid4().hex[:20].upper(),
        order_id=order.id, psn_no=person.psn_no, insutype=person.insutype,
        med_type=MED_TYPE_PHARMACY, medfee_sumamt=total, fulamt_ownpay_amt=total - inscp,
        inscp_amt=inscp, hifp_pay=0, fund_pay_sumamt=0, psn_part_amt=total,
        acct_pay=split.acct_pay, acct_mulaid_pay=split.acct_mulaid_pay,
        mulaid_psn_no=split.mulaid[0][0] if split.mulaid else None,
        mulaid_detail=[[p, a] for p, a in split.mulaid], psn_cash_pay=split.psn_cash_pay,
        balc=(own.balc - split.acct_pay) if own is not None else 0, refd_setl_flag="0",
        setl_time=now, fixmedins_code=shop.fixmedins_code, insu_admdvs=person.insu_admdvs,
    )  # fmt: skip
    session.add(setl)
    for obj in [*stock, *accounts.values()]:
        session.expire(obj)  # the guarded UPDATEs moved them
    box = 0
    for code, drug in drugs.items():
        traces = []
        for _ in range(counts[code]):
            box += 1
            traces.append(codes.trace_code(drug.id % 10**7, order.id * 10**5 + box))
        row = by_drug[drug.id]
        session.add(
            FeeLine(
                setl_id=setl.setl_id, stock_id=row.id, hilist_code=code,
                hilist_name=drug.hilist_name, list_type=drug.list_type,
                med_chrgitm_type=CHRGITM.get(drug.kind, "09"), cnt=counts[code], pric=row.pric,
                det_item_fee_sumamt=row.pric * counts[code], trace_codes=",".join(traces),
            )
        )  # fmt: skip
    session.flush()
    ledger.append(
        session=session, at=now, actor=actor, action="medicare.settle",
        subject=f"medicare_order:{order.order_no}",
        payload={
            "setl_id": setl.setl_id, "psn_no": person.psn_no, "fixmedins": shop.fixmedins_code,
            "medfee_sumamt": total, "acct_pay": split.acct_pay,
            "acct_mulaid": [[p, a] for p, a in split.mulaid], "psn_cash_pay": split.psn_cash_pay,
        },
    )  # fmt: skip
    return read_order(session, order)


def _move_stock(session: Session, stock_id: int, delta: int) -> None:
    stmt = update(Stock).where(Stock.id == stock_id)
    if delta < 0:
        stmt = stmt.where(Stock.qty >= -delta)
    done = session.execute(
        stmt.values(qty=Stock.qty + delta, version=Stock.version + 1),
        execution_options={"synchronize_session": False},
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the stock changed under this order; try again", code="stock_changed")


def _move_balance(session: Session, account_id: int, delta: int) -> None:
    stmt = update(Account).where(Account.id == account_id)
    if delta < 0:
        stmt = stmt.where(Account.balc >= -delta)
    done = session.execute(
        stmt.values(balc=Account.balc + delta, version=Account.version + 1),
        execution_options={"synchronize_session": False},
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the balance changed under this order; try again", code="balance_changed")

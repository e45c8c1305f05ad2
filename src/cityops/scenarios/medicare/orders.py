"""Place and pay 渝药易购 orders, one or a batch, in the caller's transaction.

``settle_many`` takes a batch (the API passes a batch of one; a group-commit caller passes
many): a few set-based statements for the whole batch, then each order is decided in turn
against the locked balances and stock, so orders in one batch see each other's debits exactly
as if they had run one after another. A refused order writes nothing; the others are written
with multi-row statements and one ledger append.

Idempotency: order rows are inserted first with ``ON CONFLICT (idem_key) DO NOTHING``; a key
already there (or committed meanwhile by a concurrent transaction, which PostgreSQL waits for)
is a replay, answered from what was stored, so the money moves once.

Locks, always in this order so two batches cannot deadlock: stock rows (by id), accounts (by
id), the ledger head. ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the writer lock
(``BEGIN IMMEDIATE``) already serialises. Balances and stock carry ``CHECK (≥ 0)`` as well.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cityops.errors import CityOpsError, Conflict
from cityops.ledger import service as ledger
from cityops.scenarios.medicare import codes, paysplit
from cityops.scenarios.medicare.models import (
    Account,
    FeeLine,
    Order,
    OrderStatus,
    Settlement,
    Stock,
)
from cityops.scenarios.medicare.order_checks import Checked, check_all
from cityops.scenarios.medicare.order_read import read_order
from cityops.scenarios.medicare.schemas import FeeLineRead, OrderIn, OrderRead, SettlementRead
from cityops.settings import Settings
from cityops.store.bulk import (
    allocate_ids,
    insert_rows,
    one_of,
    pairs_join,
    pairs_params,
    set_by_key,
)

MED_TYPE_PHARMACY = "41"  # 定点药店购药
CHRGITM = {"western": "09", "patent": "10"}  # 西药费 / 中成药费
_STOCK: Table = Stock.__table__  # type: ignore[assignment]
_ACCOUNT: Table = Account.__table__  # type: ignore[assignment]
_ORDER: Table = Order.__table__  # type: ignore[assignment]
_SETL: Table = Settlement.__table__  # type: ignore[assignment]
_FEE: Table = FeeLine.__table__  # type: ignore[assignment]
_LEDGER_KEYS = (
    "setl_id", "psn_no", "fixmedins_code", "medfee_sumamt", "acct_pay", "mulaid_detail",
    "psn_cash_pay",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PayRequest:
    body: OrderIn
    idem_key: str
    actor: str


def request_hash(body: OrderIn) -> str:
    return hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()


def place_order(
    *, session: Session, settings: Settings, body: OrderIn, idem_key: str, now: datetime,
    actor: str,
) -> OrderRead:  # fmt: skip
    """One order: paid and settled, a replay of the same key, or refused with the reason."""
    (result,) = settle_many(
        session=session, settings=settings, requests=[PayRequest(body, idem_key, actor)], now=now
    )
    if isinstance(result, CityOpsError):
        raise result
    return result


def _stored(session: Session, keys: set[str]) -> dict[str, tuple[str, OrderRead]]:
    """Orders stored under these keys: key → (request hash, the order read as a replay)."""
    if not keys:
        return {}
    return {
        order.idem_key: (order.request_hash, read_order(session, order, replayed=True))
        for order in session.scalars(select(Order).where(one_of(session, Order.idem_key, keys)))
    }


def _answer(kept: tuple[str, OrderRead], digest: str) -> OrderRead | CityOpsError:
    """What a request gets for a key already used: the stored order, if it is the same one."""
    if kept[0] == digest:
        return kept[1]
    return Conflict(
        "this Idempotency-Key was used for a different order", code="idempotency_key_reused"
    )


def _insert_orders(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert order rows, skipping keys that exist; returns the keys inserted."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = maker(_ORDER).on_conflict_do_nothing(index_elements=["idem_key"])
    done = session.execute(stmt.returning(_ORDER.c.idem_key), rows)
    return {str(k) for (k,) in done.all()}


def settle_many(
    *, session: Session, settings: Settings, requests: list[PayRequest], now: datetime
) -> list[OrderRead | CityOpsError]:
    """Pay a batch of orders; one result per request, in order."""
    results: list[OrderRead | CityOpsError | None] = [None] * len(requests)
    digests = [request_hash(r.body) for r in requests]
    first: dict[str, int] = {}
    for i, r in enumerate(requests):  # a key twice in one batch: see the end
        first.setdefault(r.idem_key, i)
    kept = _stored(session, set(first))
    todo = [i for i in first.values() if requests[i].idem_key not in kept]
    checked = check_all(
        session=session, settings=settings, bodies=[requests[i].body for i in todo], now=now
    )
    ready: list[tuple[int, Checked]] = []
    for i, c in zip(todo, checked, strict=True):
        if isinstance(c, CityOpsError):
            results[i] = c
        else:
            ready.append((i, c))
    ids = allocate_ids(session, _ORDER, len(ready))
    order_rows = [
        {
            "id": oid, "order_no": serial_no("", oid),
            "idem_key": requests[i].idem_key, "request_hash": digests[i],
            "psn_no": c.person.psn_no, "fixmedins_id": c.shop.id, "status": OrderStatus.paid,
            "delivery": requests[i].body.delivery, "distance_m": c.distance_m,
            "eta_minutes": _eta(settings, c.distance_m),
            "prescription_no": requests[i].body.prescription_no, "created_at": now,
            "updated_at": now, "refund_key": None,
        }
        for oid, (i, c) in zip(ids, ready, strict=True)
    ]  # fmt: skip
    inserted = _insert_orders(session, order_rows)
    late = {str(r["idem_key"]) for r in order_rows if r["idem_key"] not in inserted}
    kept.update(_stored(session, late))  # committed by a concurrent transaction meanwhile
    work = [
        (i, c, row)
        for (i, c), row in zip(ready, order_rows, strict=True)
        if row["idem_key"] in inserted
    ]
    refused = _pay(session, settings, requests, work, results, now)
    if refused:
        session.execute(delete(Order).where(Order.id.in_(refused)))
    # Every other request is answered as if the batch had run one request after another: a key
    # stored before, or paid earlier in this batch, replays (or conflicts, for another order);
    # a key whose first request was refused stored nothing, so a later one is decided afresh.
    again: list[int] = []
    for i, r in enumerate(requests):
        if results[i] is not None:
            continue
        key, prior = r.idem_key, results[first[r.idem_key]]
        if key not in kept and isinstance(prior, OrderRead):
            kept[key] = (digests[first[key]], prior.model_copy(update={"replayed": True}))
        if key in kept:
            results[i] = _answer(kept[key], digests[i])
        else:
            again.append(i)
    if again:
        redo = settle_many(
            session=session, settings=settings, requests=[requests[i] for i in again], now=now
        )
        for i, result in zip(again, redo, strict=True):
            results[i] = result
    return [r for r in results if r is not None]


_STOCK_ROWS = select(Stock.id, Stock.fixmedins_id, Stock.drug_id, Stock.pric, Stock.qty)


def _stock_rows(session: Session, pairs: list[tuple[int, int]]) -> Sequence[Any]:
    """``(id, fixmedins_id, drug_id, pric, qty)`` of these (pharmacy, drug) pairs, locked: one
    probe of the unique index per pair (``store.bulk.pairs_join``). PostgreSQL takes the row
    locks in id order; SQLite's one writer needs none."""
    dialect = session.get_bind().dialect.name
    stmt = pairs_join(dialect, _STOCK_ROWS, (Stock.fixmedins_id, Stock.drug_id))
    locked = stmt.order_by(Stock.id).with_for_update(of=Stock)
    return session.execute(locked, pairs_params(dialect, pairs)).all()


def serial_no(prefix: str, order_id: int) -> str:
    """An order's number (settlement, treatment id): the order id in 10 hex digits, then 10
    random ones, so it is unique, not guessable, and sorts with the order id. A random number
    would land each insert into the unique indexes (order, settlement, fee lines, the ledger's
    subject) on a random index page: on SQLite every such page is written to the WAL at the
    commit, the largest part of the commit's cost."""
    return f"{prefix}{order_id:010X}{secrets.token_hex(5).upper()}"


def _eta(settings: Settings, distance_m: float | None) -> float | None:
    if distance_m is None:
        return None
    return round(
        settings.medicare_prep_minutes + distance_m / settings.medicare_delivery_m_per_min, 1
    )


def _pay(
    session: Session, settings: Settings, requests: list[PayRequest],
    work: list[tuple[int, Checked, dict[str, Any]]], results: list[Any], now: datetime,
) -> list[int]:  # fmt: skip
    """Lock, decide each order in turn, write; returns the ids of orders refused here."""
    if not work:
        return []
    wanted = {(c.shop.id, d.id) for _, c, _ in work for d, _ in c.lines}
    pairs = sorted(wanted)
    stock: dict[tuple[int, int], list[int]] = {}  # (shop, drug) → [id, pric, qty]
    for sid, shop, drug, pric, qty in _stock_rows(session, pairs):
        stock[(shop, drug)] = [sid, pric, qty]
    owners = {c.person.psn_no for _, c, _ in work} | {p for _, c, _ in work for p in c.providers}
    accounts: dict[str, list[int]] = {}  # psn_no → [id, balc]
    for aid, psn, balc in session.execute(
        select(Account.id, Account.psn_no, Account.balc)
        .where(one_of(session, Account.psn_no, owners))
        .order_by(Account.id).with_for_update()
    ).all():  # fmt: skip
        accounts[psn] = [aid, balc]
    moved_stock: set[tuple[int, int]] = set()
    moved_acct: set[str] = set()
    setls: list[dict[str, Any]] = []
    fees: list[dict[str, Any]] = []
    facts: list[ledger.Fact] = []
    refused: list[int] = []
    for i, c, row in work:
        try:
            setl, lines = _decide(settings, requests[i], c, row, stock, accounts, now)
        except CityOpsError as exc:
            results[i] = exc
            refused.append(row["id"])
            continue
        for d, n in c.lines:
            stock[(c.shop.id, d.id)][2] -= n
            moved_stock.add((c.shop.id, d.id))
        if setl["acct_pay"]:
            accounts[c.person.psn_no][1] -= setl["acct_pay"]
            moved_acct.add(c.person.psn_no)
        for psn, amount in setl["mulaid_detail"]:
            accounts[psn][1] -= amount
            moved_acct.add(psn)
        setls.append(setl)
        fees += lines
        payload = {k: setl[k] for k in _LEDGER_KEYS}
        subject = f"medicare_order:{row['order_no']}"
        facts.append(ledger.Fact(requests[i].actor, "medicare.settle", subject, payload))
        results[i] = _read(row, c, setl, lines)
    set_by_key(session, _STOCK, "qty", sorted((stock[k][0], stock[k][2]) for k in moved_stock))
    set_by_key(
        session, _ACCOUNT, "balc", sorted((accounts[p][0], accounts[p][1]) for p in moved_acct)
    )
    if setls:  # Core inserts: one statement each, none of the ORM's per-row bookkeeping
        insert_rows(session, _SETL, setls)
        insert_rows(session, _FEE, fees)
        ledger.append_many(session=session, at=now, facts=facts)
    return refused


def _decide(
    settings: Settings, req: PayRequest, c: Checked, row: dict[str, Any],
    stock: dict[tuple[int, int], list[int]], accounts: dict[str, list[int]], now: datetime,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    """One order against the current (locked, in-memory) stock and balances."""
    total = inscp = 0
    for d, n in c.lines:
        found = stock.get((c.shop.id, d.id))
        if found is None:
            raise Conflict(f"{d.hilist_code} is not sold at this pharmacy", code="not_stocked")
        if found[2] < n:
            raise Conflict(
                f"only {found[2]} of {d.hilist_code} in stock", code="insufficient_stock",
                hilist_code=d.hilist_code, available=found[2], wanted=n,
            )  # fmt: skip
        total += found[1] * n
        inscp += found[1] * n if d.list_type in ("甲", "乙") else 0
    use = req.body.use_account
    own = accounts.get(c.person.psn_no)
    split = paysplit.split(
        total=total, inscp=inscp if use else 0, own_balance=own[1] if own and use else 0,
        providers=[(p, accounts[p][1]) for p in c.providers if p in accounts],
    )  # fmt: skip
    if split.psn_cash_pay and not req.body.allow_cash:
        raise Conflict(
            "the accounts do not cover the order and cash was not allowed",
            code="insufficient_balance", medfee_sumamt=total,
            account_available=split.acct_pay + split.acct_mulaid_pay,
        )  # fmt: skip
    setl_id = serial_no("S", row["id"])
    setl = {
        "setl_id": setl_id, "mdtrt_id": serial_no("M", row["id"]),
        "order_id": row["id"], "psn_no": c.person.psn_no, "insutype": c.person.insutype,
        "med_type": MED_TYPE_PHARMACY, "medfee_sumamt": total,
        "fulamt_ownpay_amt": total - inscp, "inscp_amt": inscp, "hifp_pay": 0,
        "fund_pay_sumamt": 0, "psn_part_amt": total, "acct_pay": split.acct_pay,
        "acct_mulaid_pay": split.acct_mulaid_pay,
        "mulaid_psn_no": split.mulaid[0][0] if split.mulaid else None,
        "mulaid_detail": [[p, a] for p, a in split.mulaid], "psn_cash_pay": split.psn_cash_pay,
        "balc": (own[1] - split.acct_pay) if own else 0, "refd_setl_flag": "0",
        "orig_setl_id": None, "setl_time": now, "fixmedins_code": c.shop.fixmedins_code,
        "insu_admdvs": c.person.insu_admdvs,
    }  # fmt: skip
    lines, box = [], 0
    for d, n in c.lines:
        traces = []
        for _ in range(n):
            box += 1
            traces.append(codes.trace_code(d.id % 10**7, row["id"] * 10**5 + box))
        sid, pric, _ = stock[(c.shop.id, d.id)]
        lines.append({
            "setl_id": setl_id, "stock_id": sid, "hilist_code": d.hilist_code,
            "hilist_name": d.hilist_name, "list_type": d.list_type,
            "med_chrgitm_type": CHRGITM.get(d.kind, "09"), "cnt": n, "pric": pric,
            "det_item_fee_sumamt": pric * n, "trace_codes": ",".join(traces),
        })  # fmt: skip
    return setl, lines


def _read(
    row: dict[str, Any], c: Checked, setl: dict[str, Any], lines: list[dict[str, Any]]
) -> OrderRead:
    return OrderRead(
        order_no=row["order_no"], status=OrderStatus.paid, psn_no=row["psn_no"],
        fixmedins_code=c.shop.fixmedins_code, delivery=row["delivery"],
        distance_m=row["distance_m"], eta_minutes=row["eta_minutes"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        settlements=[SettlementRead.model_validate(setl)],
        fee_lines=[
            FeeLineRead(**{k: f[k] for k in ("hilist_code", "hilist_name", "list_type", "cnt",
                                              "pric", "det_item_fee_sumamt")},
                        trace_codes=f["trace_codes"].split(","))
            for f in lines
        ],
    )  # fmt: skip

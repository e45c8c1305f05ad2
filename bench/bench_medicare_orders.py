"""渝药易购 payments: settlements per second with concurrent payers, then a balance audit.

Market: the search bench's (10,000 pharmacies × 5,000 products, 20,000 insured persons), reused.
Work: ``BENCH_MEDICARE_ORDERS`` (default 6,000) orders by ``BENCH_MEDICARE_PROCS`` processes ×
``BENCH_MEDICARE_THREADS`` threads (default 2 × 2), each order 1–3 lines at one of
``BENCH_MEDICARE_SHOPS`` (default 200) pharmacies, open on Wednesday 10:00, paid by one of
``BENCH_MEDICARE_PAYERS`` (default 2,000) insured persons (own account, else a bound relative's,
then cash), so concurrent batches race for the same accounts and stock rows. Each settled order
has its settlement, fee lines with 追溯码 and ledger entry, as the API writes them. Orders are
paid in batches of ``BENCH_MEDICARE_BATCH`` (default 100) per transaction with
``orders.settle_many`` (group commit); ``BENCH_MEDICARE_BATCH=1`` measures one order per
transaction, as the HTTP route pays today.

Figure: settlements per second (wall clock from the first worker's start to the last's end).
Audit afterwards: no balance below zero; for every account, balance before − its debits in this
run's settlements (own ``acct_pay`` and the ``acct_mulaid_pay`` detail) = balance after; stock
likewise per stock row; the ledger verifies.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import get_context
from typing import Any

import numpy as np
from sqlalchemy import func, select

from bench.bench_medicare_search import NOW, SETTINGS, prepared
from bench.common import backends, console, machine, save
from cityops.ledger import service as ledger
from cityops.scenarios.medicare import orders
from cityops.scenarios.medicare.models import (
    Account,
    Drug,
    FeeLine,
    Fixmedins,
    InsuredPerson,
    MutualAidBinding,
    Settlement,
    Stock,
)
from cityops.scenarios.medicare.schemas import OrderIn, OrderLineIn, OrderRead
from cityops.store.engine import make_engine, make_session_factory, reading, transaction

Plan = tuple[str, str, list[tuple[str, int]]]


def _plans(factory: Any, n: int, seed: int, n_payers: int, n_shops: int) -> list[Plan]:
    rng = np.random.default_rng(seed)
    with reading(factory) as s:
        payers = [
            p
            for (p,) in s.execute(
                select(InsuredPerson.psn_no).where(
                    InsuredPerson.psn_no.in_(select(Account.psn_no))
                    | InsuredPerson.psn_no.in_(select(MutualAidBinding.beneficiary_psn_no))
                )
            ).all()
        ]
        shops = [
            c
            for (c,) in s.execute(
                select(Fixmedins.fixmedins_code).where(Fixmedins.fixmedins_type == "pharmacy")
            ).all()
        ]
        hot_shops = list(rng.choice(shops, size=min(n_shops, len(shops)), replace=False))
        rows = s.execute(
            select(Fixmedins.fixmedins_code, Drug.hilist_code)
            .join(Stock, Stock.fixmedins_id == Fixmedins.id)
            .join(Drug, Drug.id == Stock.drug_id)
            .where(Fixmedins.fixmedins_code.in_(hot_shops), Stock.qty > 0)
        ).all()
    by_shop: dict[str, list[str]] = {}
    for shop, code in rows:
        by_shop.setdefault(shop, []).append(code)
    open_shops = [s for s in by_shop if len(by_shop[s]) >= 3]  # closed ones simply get refused
    hot_payers = list(rng.choice(payers, size=min(n_payers, len(payers)), replace=False))
    plans: list[Plan] = []
    for _ in range(n):
        shop = open_shops[int(rng.integers(len(open_shops)))]
        k = int(rng.integers(1, 4))
        codes = rng.choice(by_shop[shop], size=k, replace=False)
        lines = [(str(c), int(rng.integers(1, 3))) for c in codes]
        plans.append((str(hot_payers[int(rng.integers(len(hot_payers)))]), shop, lines))
    return plans


def _worker(args: tuple[str, list[Plan], int, int]) -> tuple[int, dict[str, int], float, float]:
    url, plans, threads, size = args
    engine = make_engine(url)
    factory = make_session_factory(engine)
    outcomes: Counter[str] = Counter()

    def batch(plans: list[Plan]) -> list[str]:
        reqs = [
            orders.PayRequest(
                OrderIn(
                    psn_no=psn, fixmedins_code=shop, prescription_no="RX-BENCH",
                    lines=[OrderLineIn(hilist_code=c, cnt=n) for c, n in lines],
                ),
                uuid.uuid4().hex,
                "bench",
            )
            for psn, shop, lines in plans
        ]  # fmt: skip
        try:
            with transaction(factory) as s:
                done = orders.settle_many(session=s, settings=SETTINGS, requests=reqs, now=NOW)
            return ["paid" if isinstance(d, OrderRead) else d.code for d in done]
        except Exception as exc:  # a deadlock or a lock timeout would show up here
            return [f"error:{type(exc).__name__}"] * len(reqs)

    with factory() as s:  # connect before the clock starts
        s.execute(select(1))
    t0 = time.time()
    batches = [plans[i : i + size] for i in range(0, len(plans), size)]
    with ThreadPoolExecutor(threads) as pool:
        for got in pool.map(batch, batches):
            outcomes.update(got)
    t1 = time.time()
    engine.dispose()
    return outcomes["paid"], dict(outcomes), t0, t1


def _snapshot(factory: Any) -> tuple[dict[str, int], dict[int, int], int]:
    with reading(factory) as s:
        balances = dict(s.execute(select(Account.psn_no, Account.balc)).all())
        stock = dict(s.execute(select(Stock.id, Stock.qty)).all())
        last = s.scalar(select(func.max(Settlement.id))) or 0
    return balances, stock, int(last)


def _audit(factory: Any, before: tuple[dict[str, int], dict[int, int], int]) -> dict[str, Any]:
    balances, stock, last = before
    after_bal, after_stock, _ = _snapshot(factory)
    debit: Counter[str] = Counter()
    taken: Counter[int] = Counter()
    with reading(factory) as s:
        for setl in s.scalars(select(Settlement).where(Settlement.id > last)):
            debit[setl.psn_no] += setl.acct_pay
            for psn, amount in setl.mulaid_detail:
                debit[str(psn)] += int(amount)
        for stock_id, cnt in s.execute(
            select(FeeLine.stock_id, FeeLine.cnt)
            .join(Settlement, Settlement.setl_id == FeeLine.setl_id)
            .where(Settlement.id > last)
        ).all():
            taken[int(stock_id)] += int(cnt)
        chain = ledger.verify(session=s)
    balance_errors = sum(1 for p, b in balances.items() if b - debit[p] != after_bal[p])
    stock_errors = sum(1 for i, q in stock.items() if q - taken[i] != after_stock[i])
    return {
        "balance_errors": balance_errors,
        "negative_balances": sum(1 for b in after_bal.values() if b < 0),
        "stock_errors": stock_errors,
        "ledger_ok": chain.ok,
        "debited_fen": sum(debit.values()),
    }


def run(name: str, url: str, n: int, procs: int, threads: int, batch: int) -> dict[str, Any]:
    engine = prepared(name, url)
    real = engine.url.render_as_string(hide_password=False)
    factory = make_session_factory(engine)
    payers = int(os.environ.get("BENCH_MEDICARE_PAYERS", "2000"))
    shops = int(os.environ.get("BENCH_MEDICARE_SHOPS", "200"))
    plans = _plans(factory, n, int(time.time()), payers, shops)
    with transaction(factory) as s:  # the ledger head exists before the workers race for it
        ledger.append(session=s, at=NOW, actor="bench", action="bench.start", subject="bench",
                      payload={"orders": n})  # fmt: skip
    before = _snapshot(factory)
    chunks = [plans[i::procs] for i in range(procs)]
    with get_context("spawn").Pool(procs) as pool:
        results = pool.map(_worker, [(real, c, threads, batch) for c in chunks])
    # From the first worker's start to the last one's end (process start-up and imports aside).
    wall = max(r[3] for r in results) - min(r[2] for r in results)
    outcomes: Counter[str] = Counter()
    for _, out, _, _ in results:
        outcomes.update(out)
    audit = _audit(factory, before)
    engine.dispose()
    paid = outcomes["paid"]
    figures = {
        "orders": n,
        "processes": procs,
        "threads": threads,
        "batch": batch,
        "payers": payers,
        "pharmacies": shops,
        "paid": paid,
        "outcomes": dict(outcomes),
        "seconds": round(wall, 2),
        "settlements_per_s": round(paid / wall),
        **audit,
    }
    console.print(
        f"{name}: {paid:,} settlements of {n:,} orders in {wall:.1f} s = "
        f"{figures['settlements_per_s']:,}/s ({procs} processes × {threads} threads, "
        f"batches of {batch}); "
        f"refused {dict((k, v) for k, v in outcomes.items() if k != 'paid')}; "
        f"balance errors {audit['balance_errors']}, negative {audit['negative_balances']}, "
        f"stock errors {audit['stock_errors']}, ledger ok {audit['ledger_ok']}"
    )
    return figures


def main() -> None:
    n = int(os.environ.get("BENCH_MEDICARE_ORDERS", "6000"))
    procs = int(os.environ.get("BENCH_MEDICARE_PROCS", "2"))
    threads = int(os.environ.get("BENCH_MEDICARE_THREADS", "2"))
    batch = int(os.environ.get("BENCH_MEDICARE_BATCH", "100"))
    results: dict[str, Any] = {"machine": machine()}
    for name, url in backends():
        results[name] = run(name, url, n, procs, threads, batch)
    save("bench_medicare_orders", results)


if __name__ == "__main__":
    main()

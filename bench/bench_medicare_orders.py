"""渝药易购 payments: settlements per second with concurrent payers, then a balance audit.

Market: the search bench's (10,000 pharmacies × 5,000 products, 20,000 insured persons), reused.
Work: ``BENCH_MEDICARE_ORDERS`` (default 6,000) orders by ``BENCH_MEDICARE_PROCS`` processes ×
``BENCH_MEDICARE_THREADS`` threads (default 2 × 2), each order 1–3 lines at one of
``BENCH_MEDICARE_SHOPS`` (default 200) pharmacies, open on Wednesday 10:00, paid by one of
``BENCH_MEDICARE_PAYERS`` (default 2,000) insured persons (own account, else a bound relative's,
then cash), so concurrent batches race for the same accounts and stock rows. Each settled order
has its settlement, fee lines with 追溯码 and ledger entry, as the API writes them. Orders are
paid two ways, each measured and audited on its own:

- ``batch``: batches of ``BENCH_MEDICARE_BATCH`` (default 100) per transaction with
  ``orders.settle_many`` (``BENCH_MEDICARE_BATCH=1``: one order per transaction);
- ``queue``: what the HTTP route does: ``BENCH_MEDICARE_QUEUE_THREADS`` (default 32) threads per
  process each hand single orders to the process's ``SettlementQueue`` (group commit, batches
  formed by whatever arrives during the previous commit). Login and the account-owner check of
  the route are not included (a read each, outside the write transaction).

``BENCH_MEDICARE_MODES`` (default ``batch,queue``) picks them.

Figures: settlements per second (wall clock from the first worker's start to the last's end),
CPU milliseconds per order in the bench processes (``time.process_time``; on PostgreSQL the
server's CPU comes on top), the load average, and for the queue the mean batch size.
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
from sqlalchemy import event, func, select

from bench.bench_medicare_search import NOW, SETTINGS, prepared
from bench.common import backends, console, machine, save
from cityops.clock import FakeClock
from cityops.errors import CityOpsError
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
from cityops.scenarios.medicare.settle_queue import SettlementQueue
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


def _request(plan: Plan) -> orders.PayRequest:
    psn, shop, lines = plan
    body = OrderIn(
        psn_no=psn, fixmedins_code=shop, prescription_no="RX-BENCH",
        lines=[OrderLineIn(hilist_code=c, cnt=n) for c, n in lines],
    )  # fmt: skip
    return orders.PayRequest(body, uuid.uuid4().hex, "bench")


Work = tuple[str, str, list[Plan], int, int]  # url, mode, plans, threads, batch size
# outcomes, t0, t1, CPU seconds of the worker, of its PostgreSQL backends, batches
Done = tuple[dict[str, int], float, float, float, float, int]


def _backend_cpu(pids: set[int]) -> float:
    """CPU seconds used so far by these PostgreSQL backends (same machine: /proc)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _worker(args: Work) -> Done:
    url, mode, plans, threads, size = args
    engine = make_engine(url)
    factory = make_session_factory(engine)
    queue = SettlementQueue(sessions=factory, settings=SETTINGS, clock=FakeClock(NOW))
    outcomes: Counter[str] = Counter()
    backends: set[int] = set()

    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _pid(dbapi_conn: Any, _record: Any) -> None:
            backends.add(int(dbapi_conn.info.backend_pid))

    def batch(plans: list[Plan]) -> list[str]:
        reqs = [_request(p) for p in plans]
        try:
            with transaction(factory) as s:
                done = orders.settle_many(session=s, settings=SETTINGS, requests=reqs, now=NOW)
            return ["paid" if isinstance(d, OrderRead) else d.code for d in done]
        except Exception as exc:  # a deadlock or a lock timeout would show up here
            return [f"error:{type(exc).__name__}"] * len(reqs)

    def one_by_one(plans: list[Plan]) -> list[str]:  # one client thread, as the route's
        got = []
        for plan in plans:
            try:
                queue.pay(_request(plan))
                got.append("paid")
            except CityOpsError as exc:
                got.append(exc.code)
            except Exception as exc:
                got.append(f"error:{type(exc).__name__}")
        return got

    with factory() as s:  # connect before the clock starts
        s.execute(select(1))
    t0, c0, s0 = time.time(), time.process_time(), _backend_cpu(backends)
    if mode == "queue":
        chunks = [plans[i::threads] for i in range(threads)]
        run_one: Any = one_by_one
    else:
        chunks = [plans[i : i + size] for i in range(0, len(plans), size)]
        run_one = batch
    with ThreadPoolExecutor(threads) as pool:
        for got in pool.map(run_one, chunks):
            outcomes.update(got)
    t1, c1, s1 = time.time(), time.process_time(), _backend_cpu(backends)
    engine.dispose()
    return dict(outcomes), t0, t1, c1 - c0, s1 - s0, queue.batches


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


def run(
    name: str, url: str, mode: str, n: int, procs: int, threads: int, batch: int
) -> dict[str, Any]:
    """One figure: ``n`` orders paid in ``mode`` (``batch`` or ``queue``), then the audit."""
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
    load_before = os.getloadavg()
    with get_context("spawn").Pool(procs) as pool:
        results = pool.map(_worker, [(real, mode, c, threads, batch) for c in chunks])
    load_after = os.getloadavg()
    # From the first worker's start to the last one's end (process start-up and imports aside).
    wall = max(r[2] for r in results) - min(r[1] for r in results)
    outcomes: Counter[str] = Counter()
    for out, *_ in results:
        outcomes.update(out)
    cpu = sum(r[3] for r in results)
    server_cpu = sum(r[4] for r in results)
    batches = sum(r[5] for r in results)
    audit = _audit(factory, before)
    engine.dispose()
    paid = outcomes["paid"]
    figures = {
        "mode": mode,
        "orders": n,
        "processes": procs,
        "threads": threads,
        "batch": batch if mode == "batch" else None,
        "mean_batch": round(n / batches, 1) if batches else None,
        "cpu_ms_per_order": round(1000 * cpu / n, 3),
        "server_cpu_ms_per_order": round(1000 * server_cpu / n, 3) if server_cpu else None,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "payers": payers,
        "pharmacies": shops,
        "paid": paid,
        "outcomes": dict(outcomes),
        "seconds": round(wall, 2),
        "settlements_per_s": round(paid / wall),
        **audit,
    }
    how = f"batches of {batch}" if mode == "batch" else f"queue, mean batch {figures['mean_batch']}"
    console.print(
        f"{name} {mode}: {paid:,} settlements of {n:,} orders in {wall:.1f} s = "
        f"{figures['settlements_per_s']:,}/s ({procs} processes × {threads} threads, {how}); "
        f"CPU {figures['cpu_ms_per_order']} ms/order"
        + (f" + server {figures['server_cpu_ms_per_order']}" if server_cpu else "")
        + ", "
        f"load {load_before[0]:.2f}→{load_after[0]:.2f}; "
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
    queue_threads = int(os.environ.get("BENCH_MEDICARE_QUEUE_THREADS", "32"))
    modes = os.environ.get("BENCH_MEDICARE_MODES", "batch,queue").split(",")
    results: dict[str, Any] = {"machine": machine()}
    for name, url in backends():
        results[name] = {
            mode: run(
                name, url, mode, n, procs, queue_threads if mode == "queue" else threads, batch
            )
            for mode in modes
        }
    save("bench_medicare_orders", results)


if __name__ == "__main__":
    main()

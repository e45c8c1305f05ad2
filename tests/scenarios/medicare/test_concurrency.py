"""Concurrent payments and refunds with real threads, on SQLite and PostgreSQL: a balance or a
stock never goes negative, and money never moves twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.errors import CityOpsError
from cityops.ledger import service as ledger
from cityops.scenarios.medicare import order_read, orders
from cityops.scenarios.medicare.models import Account, Settlement, Stock
from cityops.scenarios.medicare.schemas import OrderIn, OrderLineIn
from cityops.settings import Settings
from cityops.store.engine import transaction
from tests.scenarios.medicare import kit

SETTINGS = Settings(secret_key="test-secret-key-0123456789abcdef")
THREADS = 10
T = TypeVar("T")


def _race(n: int, job: Callable[[int], T]) -> list[T | str]:
    """Run ``job(i)`` for i < n on n threads released together; a refusal becomes its code."""
    gate = threading.Barrier(n)

    def run(i: int) -> T | str:
        gate.wait()
        try:
            return job(i)
        except CityOpsError as exc:
            return exc.code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _pay(
    factory: sessionmaker[Session], clock: FakeClock, key: str, psn: str, code: str,
    allow_cash: bool = False, shop: str = "P50010700001",
) -> str:  # fmt: skip
    body = OrderIn(
        psn_no=psn, fixmedins_code=shop, lines=[OrderLineIn(hilist_code=code, cnt=1)],
        prescription_no="RX1", allow_cash=allow_cash,
    )  # fmt: skip
    with transaction(factory) as s:
        made = orders.place_order(
            session=s, settings=SETTINGS, body=body, idem_key=key, now=clock.now(), actor="t"
        )
    return made.order_no


def _balance(factory: sessionmaker[Session], psn: str) -> int:
    with factory() as s:
        return int(s.scalar(select(Account.balc).where(Account.psn_no == psn)) or 0)


def _setl_count(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(Settlement)) or 0)


def test_a_shared_balance_never_goes_negative(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as s:
        stock = kit.build(s, emp_balance=1000, stock_qty=50)

    # EMP pays from its own account at one pharmacy, KID from EMP's (家庭共济) at another (no
    # shared stock row to queue on): ¥10.00 covers two ¥5.00 boxes.
    def pay(i: int) -> str:
        if i % 2:
            return _pay(session_factory, clock, f"k{i}", "EMP", kit.IBU)
        return _pay(session_factory, clock, f"k{i}", "KID", kit.IBU, shop="P50010700002")

    results = _race(THREADS, pay)
    paid = [r for r in results if r != "insufficient_balance"]
    assert len(paid) == 2 and all(len(r) == 20 for r in paid), results
    assert _balance(session_factory, "EMP") == 0
    with session_factory() as s:
        left = [s.get(Stock, stock[f"{p}/{kit.IBU}"]) for p in ("NEAR", "OPEN24")]
        assert sum(x.qty for x in left if x) == 98
        debited = s.scalar(select(func.sum(Settlement.acct_pay + Settlement.acct_mulaid_pay)))
        assert debited == 1000
        assert ledger.verify(session=s).ok


def test_stock_never_goes_negative(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as s:
        stock = kit.build(s, stock_qty=3)
    results = _race(
        THREADS, lambda i: _pay(session_factory, clock, f"k{i}", "RICH", kit.AMOX24, True)
    )
    assert sorted(r for r in results if len(r) != 20) == ["insufficient_stock"] * 7
    with session_factory() as s:
        assert s.get(Stock, stock[f"NEAR/{kit.AMOX24}"]).qty == 0  # type: ignore[union-attr]
    assert _balance(session_factory, "RICH") == 5000 - 3 * 1200


def test_one_payment_submitted_many_times_at_once_moves_money_once(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as s:
        kit.build(s)
    results = _race(THREADS, lambda i: _pay(session_factory, clock, "same", "RICH", kit.IBU))
    assert len(set(results)) == 1 and len(results[0]) == 20, results
    assert _setl_count(session_factory) == 1
    assert _balance(session_factory, "RICH") == 4500


def test_concurrent_refunds_refund_once(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as s:
        kit.build(s)
    order_no = _pay(session_factory, clock, "p", "KID", kit.IBU)
    assert _balance(session_factory, "EMP") == 500

    def refund(i: int) -> str:
        with transaction(session_factory) as s:
            done = order_read.refund(
                session=s, order_no=order_no, idem_key=f"r{i}", now=clock.now(), actor="t"
            )
        return done.status.value

    results = _race(THREADS, refund)
    assert sorted(results) == ["already_refunded"] * (THREADS - 1) + ["refunded"]
    assert _balance(session_factory, "EMP") == 1000
    assert _setl_count(session_factory) == 2


def test_a_batch_decides_its_orders_in_turn_as_if_one_after_another(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as s:
        kit.build(s, emp_balance=1000)

    def req(key: str, psn: str, cnt: int = 1, allow_cash: bool = False) -> orders.PayRequest:
        body = OrderIn(
            psn_no=psn, fixmedins_code="P50010700001", allow_cash=allow_cash,
            lines=[OrderLineIn(hilist_code=kit.IBU, cnt=cnt)],
        )  # fmt: skip
        return orders.PayRequest(body, key, "t")

    batch = [
        req("a", "EMP"),  # ¥5.00 from EMP's ¥10.00
        req("b", "KID", cnt=99),  # more than in stock: refused, nothing moves
        req("c", "KID"),  # ¥5.00 from EMP by 家庭共济: sees a's debit
        req("d", "EMP"),  # nothing left and no cash allowed: refused
        req("a", "EMP"),  # the same key again: a replay of a
        req("c", "LONE"),  # the same key, another order: refused
    ]
    with transaction(session_factory) as s:
        out = orders.settle_many(session=s, settings=SETTINGS, requests=batch, now=clock.now())
    codes = [r.code if isinstance(r, CityOpsError) else r.settlements[0].acct_mulaid_pay
             for r in out]  # fmt: skip
    assert codes == [0, "insufficient_stock", 500, "insufficient_balance", 0,
                     "idempotency_key_reused"]  # fmt: skip
    assert not isinstance(out[4], CityOpsError) and out[4].replayed
    assert not isinstance(out[0], CityOpsError) and out[4].order_no == out[0].order_no
    assert _balance(session_factory, "EMP") == 0
    assert _setl_count(session_factory) == 2
    # After the commit, the keys replay from the database.
    with transaction(session_factory) as s:
        again = orders.settle_many(
            session=s, settings=SETTINGS, requests=batch[:1], now=clock.now()
        )
    assert not isinstance(again[0], CityOpsError) and again[0].replayed
    assert again[0].order_no == out[0].order_no and _setl_count(session_factory) == 2

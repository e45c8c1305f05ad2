"""Payments through the HTTP route's settlement queue (group commit), with real threads, on
SQLite and PostgreSQL: each order settles once with its own result, whatever it shares a
transaction with."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import FakeClock
from cityops.errors import CityOpsError
from cityops.ledger import service as ledger
from cityops.scenarios.medicare import orders
from cityops.scenarios.medicare.models import Settlement, Stock
from cityops.scenarios.medicare.pharmacy_api import settlement_queue
from cityops.scenarios.medicare.schemas import OrderIn, OrderLineIn
from cityops.settings import Settings
from cityops.store.engine import transaction
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit
from tests.scenarios.medicare.test_orders import OPEN24, balances, market, order, qty  # noqa: F401

THREADS = 16
SETTINGS = Settings(secret_key="test-secret-key-0123456789abcdef")


def _together(n: int, job: Callable[[int], Any]) -> list[Any]:
    """``job(i)`` for i < n on n threads released at once."""
    gate = threading.Barrier(n)

    def run(i: int) -> Any:
        gate.wait()
        return job(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _settlements(api: Api) -> int:  # noqa: F811
    with api.ctx.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Settlement)) or 0)


def _until(done: Callable[[], bool]) -> None:
    """Wait for another thread to get somewhere (not a timing assertion: a deadline)."""
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, "the other threads never got there"
        time.sleep(0.005)


def test_concurrent_orders_on_one_account_each_settle_once(market: Api) -> None:  # noqa: F811
    market.headers("admin")  # log in before the threads start

    def pay(i: int) -> tuple[int, dict[str, Any], int, dict[str, Any]]:
        body = {"psn_no": "RICH", "allow_cash": True, "fixmedins_code": OPEN24 if i % 2 else None,
                "lines": [{"hilist_code": kit.IBU, "cnt": 1}]}  # fmt: skip
        body = {k: v for k, v in body.items() if v is not None}
        first = order(market, f"k{i}", **body)
        again = order(market, f"k{i}", **body)  # the client retries: a replay
        return first.status_code, first.json(), again.status_code, again.json()

    results = _together(THREADS, pay)
    assert all(r[0] == r[2] == 200 for r in results), results
    assert all(r[3]["order_no"] == r[1]["order_no"] and r[3]["replayed"] for r in results)
    assert len({r[1]["order_no"] for r in results}) == THREADS
    setls = [r[1]["settlements"][0] for r in results]
    # ¥50.00 covers ten boxes at ¥5.00 from the account; the other six are paid in cash.
    assert sum(s["acct_pay"] for s in setls) == 5000
    assert sum(s["psn_cash_pay"] for s in setls) == 500 * (THREADS - 10)
    assert balances(market)["RICH"] == 0 and _settlements(market) == THREADS
    assert qty(market, f"NEAR/{kit.IBU}") + qty(market, f"OPEN24/{kit.IBU}") == 20 - THREADS
    with market.ctx.sessions() as s:
        assert ledger.verify(session=s).ok


def test_one_key_sent_many_times_at_once_pays_once(market: Api) -> None:  # noqa: F811
    market.headers("admin")
    body = {"psn_no": "RICH", "lines": [{"hilist_code": kit.IBU, "cnt": 2}]}
    results = _together(THREADS, lambda i: order(market, "same", **body))
    assert {r.status_code for r in results} == {200}
    assert len({r.json()["order_no"] for r in results}) == 1
    assert sum(not r.json()["replayed"] for r in results) == 1
    assert balances(market)["RICH"] == 4000 and _settlements(market) == 1


def test_a_refused_order_in_a_batch_gets_its_own_error(market: Api) -> None:  # noqa: F811
    market.headers("admin")
    queue = settlement_queue(market.ctx)
    ibu = [{"hilist_code": kit.IBU, "cnt": 1}]
    asks: list[tuple[str, dict[str, Any]]] = [
        ("lead", {"psn_no": "RICH", "lines": ibu}),
        ("a", {"psn_no": "EMP", "lines": ibu}),
        ("b", {"psn_no": "LONE", "lines": [{"hilist_code": kit.IBU, "cnt": 11}]}),
        ("c", {"psn_no": "KID", "lines": ibu}),
        ("d", {"psn_no": "RICH", "lines": ibu, "fixmedins_code": "P50010700003"}),
        ("e", {"psn_no": "RICH", "lines": [{"hilist_code": kit.UNLISTED, "cnt": 1}]}),
        ("lead", {"psn_no": "RICH", "lines": ibu}),  # the same key again: a replay
        ("lead", {"psn_no": "LONE", "lines": ibu, "allow_cash": True}),  # another order: refused
    ]
    with ThreadPoolExecutor(len(asks)) as pool:
        # Hold the stock row the first order needs (on SQLite: the one writer), so its batch
        # waits while all the others queue up behind it and make the second batch, in which
        # they are decided in the order they arrived (each outcome here is the same in any).
        with transaction(market.ctx.sessions) as s:
            s.execute(
                select(Stock.id)
                .where(Stock.id == market.ctx.extras["stock"][f"NEAR/{kit.IBU}"])
                .with_for_update()
            )
            first = pool.submit(order, market, *asks[0][:1], **asks[0][1])
            _until(lambda: queue.busy)
            rest = [pool.submit(order, market, key, **body) for key, body in asks[1:]]
            _until(lambda: queue.waiting == len(asks) - 1)
        got = [f.result() for f in [first, *rest]]
    assert queue.batches == 2 and queue.orders == len(asks)
    outcome = [r.json()["error"]["code"] if r.status_code != 200 else "paid" for r in got]
    assert outcome == ["paid", "paid", "insufficient_stock", "paid", "pharmacy_closed",
                       "unknown_drug_code", "paid", "idempotency_key_reused"]  # fmt: skip
    assert [r.status_code for r in got] == [200, 200, 409, 200, 409, 404, 200, 409]
    assert got[6].json()["order_no"] == got[0].json()["order_no"] and got[6].json()["replayed"]
    paid_by_kid = got[3].json()["settlements"][0]
    assert (paid_by_kid["acct_mulaid_pay"], paid_by_kid["mulaid_psn_no"]) == (500, "EMP")
    assert balances(market)["EMP"] == 0 and balances(market)["RICH"] == 4500
    assert qty(market, f"NEAR/{kit.IBU}") == 10 - 3 and _settlements(market) == 3


def test_a_key_twice_in_one_batch_is_answered_as_if_one_after_another(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as s:
        kit.build(s)

    def req(key: str, psn: str, cnt: int = 1) -> orders.PayRequest:
        body = OrderIn(psn_no=psn, fixmedins_code="P50010700001", allow_cash=True,
                       lines=[OrderLineIn(hilist_code=kit.IBU, cnt=cnt)])  # fmt: skip
        return orders.PayRequest(body, key, "t")

    def settle(batch: list[orders.PayRequest]) -> list[Any]:
        with transaction(session_factory) as s:
            done = orders.settle_many(session=s, settings=SETTINGS, requests=batch, now=clock.now())
        return [r.code if isinstance(r, CityOpsError) else r for r in done]

    (paid,) = settle([req("old", "RICH")])
    out = settle([
        req("old", "LONE"),  # another order under a stored key: refused...
        req("old", "RICH"),  # ...which does not stop the same order from replaying
        req("new", "RICH", cnt=99),  # refused: nothing is stored under "new"...
        req("new", "RICH"),  # ...so this one is a first payment, not a replay of a refusal
    ])  # fmt: skip
    assert out[0] == "idempotency_key_reused" and out[2] == "insufficient_stock"
    assert out[1].order_no == paid.order_no and out[1].replayed
    assert not out[3].replayed and out[3].settlements[0].acct_pay == 500

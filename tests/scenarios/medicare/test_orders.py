"""渝药易购 orders over HTTP on both backends: who pays what, idempotency, refusals, refunds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from cityops.ledger import service as ledger
from cityops.scenarios.medicare.models import Account, Settlement, Stock
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit

NEAR, OPEN24 = "P50010700001", "P50010700002"


@pytest.fixture
def market(api: Api) -> Api:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        api.ctx.extras["stock"] = kit.build(s)
    return api


def order(api: Api, key: str | None, **body: Any) -> Any:  # noqa: F811
    who = body.pop("who", "admin")
    payload = {"fixmedins_code": NEAR, "prescription_no": "RX1", **body}
    headers = api.headers(who)
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post("/api/v1/medicare/orders", json=payload, headers=headers)


def refund(api: Api, order_no: str, key: str) -> Any:  # noqa: F811
    headers = {**api.headers("admin"), "Idempotency-Key": key}
    return api.client.post(f"/api/v1/medicare/orders/{order_no}/refund", headers=headers)


def balances(api: Api) -> dict[str, int]:  # noqa: F811
    with api.ctx.sessions() as s:
        return {a.psn_no: a.balc for a in s.scalars(select(Account))}


def qty(api: Api, key: str) -> int:  # noqa: F811
    with api.ctx.sessions() as s:
        stock = s.get(Stock, api.ctx.extras["stock"][key])
        assert stock is not None
        return stock.qty


def test_own_account_first_then_cash(market: Api) -> None:
    r = order(market, "k1", psn_no="EMP", lines=[{"hilist_code": kit.AMOX24, "cnt": 1}])
    assert r.status_code == 200, r.text
    setl = r.json()["settlements"][0]
    got = [setl[k] for k in ("medfee_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")]
    assert got == [1200, 1000, 0, 200] and (setl["balc"], setl["med_type"]) == (0, "41")
    assert balances(market)["EMP"] == 0 and qty(market, f"NEAR/{kit.AMOX24}") == 9
    line = r.json()["fee_lines"][0]
    assert line["cnt"] == 1 and line["det_item_fee_sumamt"] == 1200
    assert len(line["trace_codes"]) == 1 and len(line["trace_codes"][0]) == 20


def test_a_beneficiary_without_an_account_pays_from_the_relatives_account(market: Api) -> None:
    r = order(market, "k1", psn_no="KID", lines=[{"hilist_code": kit.IBU, "cnt": 1}])
    setl = r.json()["settlements"][0]
    assert (setl["acct_pay"], setl["acct_mulaid_pay"], setl["mulaid_psn_no"],
            setl["psn_cash_pay"]) == (0, 500, "EMP", 0)  # fmt: skip
    assert balances(market)["EMP"] == 500
    # Nobody to lean on: all cash.
    r = order(market, "k2", psn_no="LONE", lines=[{"hilist_code": kit.IBU, "cnt": 2}])
    setl = r.json()["settlements"][0]
    assert (setl["acct_pay"], setl["acct_mulaid_pay"], setl["psn_cash_pay"]) == (0, 0, 1000)


def test_a_resubmitted_payment_moves_money_once(market: Api) -> None:
    body = {"psn_no": "RICH", "lines": [{"hilist_code": kit.IBU, "cnt": 2}]}
    first = order(market, "same", **body)
    again = order(market, "same", **body)
    assert first.status_code == again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["order_no"] == first.json()["order_no"]
    assert balances(market)["RICH"] == 4000 and qty(market, f"NEAR/{kit.IBU}") == 8
    other = order(market, "same", psn_no="RICH", lines=[{"hilist_code": kit.IBU, "cnt": 3}])
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert order(market, None, **body).json()["error"]["code"] == "idempotency_key_required"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"lines": [{"hilist_code": kit.IBU, "cnt": 11}]}, 409, "insufficient_stock"),
        ({"lines": [{"hilist_code": kit.IBU, "cnt": 3}], "allow_cash": False}, 409,
         "insufficient_balance"),
        ({"lines": [{"hilist_code": kit.AMOX24, "cnt": 1}], "prescription_no": None}, 422,
         "prescription_required"),
        ({"lines": [{"hilist_code": kit.UNLISTED, "cnt": 1}]}, 404, "unknown_drug_code"),
        ({"lines": [{"hilist_code": "XJ01CA", "cnt": 1}]}, 422, "drug_code_bad_length"),
        ({"lines": [{"hilist_code": kit.AMOX36, "cnt": 1}]}, 409, "not_stocked"),
        ({"lines": [{"hilist_code": kit.IBU, "cnt": 1}], "fixmedins_code": "P50010700003"}, 409,
         "pharmacy_closed"),
        ({"lines": [{"hilist_code": kit.IBU, "cnt": 1}], "delivery": True, "lat": kit.LAT + 0.05,
          "lng": kit.LNG}, 409, "beyond_delivery_radius"),
        ({"lines": [{"hilist_code": kit.IBU, "cnt": 1}, {"hilist_code": kit.IBU, "cnt": 1}]},
         422, "duplicate_line"),
    ],
)  # fmt: skip
def test_bad_orders_are_refused_and_nothing_moves(
    market: Api, body: dict[str, Any], status: int, code: str
) -> None:
    before = balances(market), qty(market, f"NEAR/{kit.IBU}")
    r = order(market, "bad", psn_no="EMP", **body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert (balances(market), qty(market, f"NEAR/{kit.IBU}")) == before
    with market.ctx.sessions() as s:
        assert s.scalars(select(Settlement)).first() is None


def test_refund_returns_every_fen_where_it_came_from_once(market: Api) -> None:
    paid = order(market, "p", psn_no="KID", lines=[{"hilist_code": kit.AMOX24, "cnt": 1}])
    no = paid.json()["order_no"]
    assert balances(market)["EMP"] == 0 and qty(market, f"NEAR/{kit.AMOX24}") == 9
    r = refund(market, no, "r1")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "refunded"
    orig, back = r.json()["settlements"]
    assert orig["refd_setl_flag"] == "1" and back["orig_setl_id"] == orig["setl_id"]
    assert (back["acct_mulaid_pay"], back["psn_cash_pay"]) == (-1000, -200)
    assert balances(market)["EMP"] == 1000 and qty(market, f"NEAR/{kit.AMOX24}") == 10
    assert refund(market, no, "r1").json()["replayed"] is True
    again = refund(market, no, "r2")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_refunded"
    assert balances(market)["EMP"] == 1000
    with market.ctx.sessions() as s:
        subject = f"medicare_order:{no}"
        assert [e.action for e in ledger.history(session=s, subject=subject)] == [
            "medicare.settle", "medicare.refund"]  # fmt: skip
        assert ledger.verify(session=s).ok


def test_delivery_moves_forward_only_and_dispensed_medicine_is_not_refunded(market: Api) -> None:
    r = order(market, "d", psn_no="RICH", lines=[{"hilist_code": kit.IBU, "cnt": 1}],
              delivery=True, lat=kit.LAT + 0.01, lng=kit.LNG)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["eta_minutes"] == pytest.approx(10 + 1112 / 250, abs=0.2)
    no, h = r.json()["order_no"], market.headers("admin")

    def move(status: str) -> Any:
        url = f"/api/v1/medicare/orders/{no}/status"
        return market.client.post(url, json={"status": status}, headers=h)

    assert move("picked_up").json()["error"]["code"] == "illegal_status"
    assert move("delivering").json()["status"] == "delivering"
    assert move("delivered").json()["status"] == "delivered"
    r = refund(market, no, "late")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_dispensed"


def test_residents_pay_only_for_their_own_insured_persons(market: Api) -> None:
    r = order(market, "x", psn_no="RICH", lines=[{"hilist_code": kit.IBU, "cnt": 1}],
              who="resident")  # fmt: skip
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_account"

"""医药价格智治 over HTTP on both backends: outliers against the listed price and the district
median, ranking, the map, price changes kept in the history, and a persistent outlier opening
one supervision case (not one per check)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from cityops.auth.models import Role
from cityops.auth.service import create_user
from cityops.cases.models import Case
from cityops.ledger.models import LedgerEntry
from cityops.scenarios.medicare.models import PriceCase, PriceChange, RefPrice, Stock
from tests import citykit
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit

P10, P20 = kit.AMOX24, kit.AMOX36  # one product (四同) in packs of 24 and 36
URL = "/api/v1/medicare/prices"


@pytest.fixture
def market(api: Api) -> Api:  # noqa: F811
    """Four pharmacies inside the test city; listed 50 fen a capsule in either pack. Unit
    prices: A 50, B 50, C 50 (the 36-pack at 1800), D 80 (+60 % over listed and median)."""
    with api.ctx.sessions.begin() as s:
        create_user(
            session=s, username="analyst", password=citykit.PASSWORD,
            role=Role.insurance_analyst, scope_code=None, display_name="医保分析员",
        )  # fmt: skip
        shops = {
            name: kit._shop(f"P5001070010{i}", citykit.Y0 + 0.003 + 0.002 * i,
                            citykit.X0 + 0.004, kit.ALL_DAY, 3000)
            for i, name in enumerate("ABCD")
        }  # fmt: skip
        drugs = {
            P10: kit._drug(P10, "阿莫西林胶囊", "00571", "0.25g", 24, True),
            P20: kit._drug(P20, "阿莫西林胶囊", "00571", "250mg", 36, True),
        }
        s.add_all([*shops.values(), *drugs.values()])
        s.add_all([
            RefPrice(hilist_code=P10, listed_price=1200, vbp_price=None),
            RefPrice(hilist_code=P20, listed_price=1800, vbp_price=None),
        ])  # fmt: skip
        s.flush()
        ids = {}
        for shop, code, price in (("A", P10, 1200), ("B", P10, 1200), ("C", P20, 1800),
                                  ("D", P10, 1920)):  # fmt: skip
            row = Stock(fixmedins_id=shops[shop].id, drug_id=drugs[code].id, pric=price, qty=5)
            s.add(row)
            s.flush()
            ids[shop] = row.id
    api.ctx.extras["ids"] = ids
    return api


def get(api: Api, path: str, who: str = "analyst", **params: Any) -> Any:  # noqa: F811
    return api.client.get(f"{URL}/{path}", params=params, headers=api.headers(who))


def put_price(api: Api, stock_id: int, pric: int, who: str = "admin") -> Any:  # noqa: F811
    return api.client.put(
        f"/api/v1/medicare/stock/{stock_id}/price", json={"pric": pric, "reason": "调价"},
        headers=api.headers(who),
    )  # fmt: skip


def check(api: Api) -> dict[str, Any]:  # noqa: F811
    r = api.client.post(f"{URL}/check", headers=api.headers("analyst"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_outlier_against_listed_price_and_district_median(market: Api) -> None:
    r = get(market, "outliers")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["total"], body["rows"]) == (1, 4)
    item = body["items"][0]
    assert item["stock_id"] == market.ctx.extras["ids"]["D"]
    assert (item["unit_price"], item["listed_unit"], item["median_unit"]) == (80.0, 50.0, 50.0)
    assert (item["r_listed"], item["r_median"], item["r_vbp"]) == (0.6, 0.6, None)
    assert item["flags"] == ["listed", "median"] and item["peers"] == 4
    assert get(market, "outliers", min_ratio=0.61).json()["total"] == 0
    assert get(market, "outliers", product=P20).json()["total"] == 1  # any pack of the product
    assert get(market, "outliers", district="500157").json()["total"] == 0
    unknown = get(market, "outliers", product=kit.UNLISTED)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_drug_code"


def test_only_analysts_and_the_city_admin_read_prices(market: Api) -> None:
    assert get(market, "outliers", who="admin").status_code == 200
    for who in ("resident", "dispatcher", "inspector"):
        assert get(market, "ranking", who=who).status_code == 403
    assert market.client.get(f"{URL}/outliers").status_code == 401
    assert market.client.post(f"{URL}/check", headers=market.headers("resident")).status_code == 403


def test_ranking_and_map(market: Api) -> None:
    by_shop = get(market, "ranking").json()["items"]
    assert by_shop[0]["fixmedins_code"] == "P50010700103" and by_shop[0]["flagged"] == 1
    assert [i["flagged"] for i in by_shop[1:]] == [0, 0, 0]
    products = get(market, "ranking", by="product").json()["items"]
    assert len(products) == 1 and products[0]["flagged"] == 1 and products[0]["rows"] == 4
    features = get(market, "map").json()["features"]
    d = next(f for f in features if f["properties"]["fixmedins_code"] == "P50010700103")
    assert d["geometry"]["coordinates"] == [citykit.X0 + 0.004, citykit.Y0 + 0.003 + 0.006]
    assert d["properties"]["deviation"] == 0.6 and len(features) == 4


def test_price_change_is_kept_and_shows_at_once(market: Api) -> None:
    d = market.ctx.extras["ids"]["D"]
    r = put_price(market, d, 1300)
    assert r.status_code == 200, r.text
    assert r.json()["changes"][0] | {"changed_at": None} == {
        "old_pric": 1920, "new_pric": 1300, "reason": "调价", "actor": "user:admin",
        "changed_at": None,
    }  # fmt: skip
    assert get(market, "outliers").json()["total"] == 0  # 54.2 fen: +8.3 %, under 15 %
    assert put_price(market, d, 1300).json()["changes"][-1]["new_pric"] == 1300
    hist = get(market, "history", stock_id=d).json()
    assert len(hist["changes"]) == 1 and hist["pric"] == 1300  # the same price: no change
    with market.ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(PriceChange)) == 1
        actions = s.scalars(select(LedgerEntry.action)).all()
        assert actions.count("medicare.price_set") == 1
    assert put_price(market, d, 1000, who="analyst").status_code == 403
    assert put_price(market, 999_999, 1000).json()["error"]["code"] == "unknown_stock"
    assert put_price(market, d, 0).status_code == 422
    assert get(market, "history", stock_id=999_999).status_code == 404


def next_day(api: Api) -> None:  # noqa: F811
    api.clock.advance(timedelta(days=1))
    api.tokens.clear()  # tokens last 12 hours


def counts(api: Api) -> tuple[int, int, int]:  # noqa: F811
    with api.ctx.sessions() as s:
        price_cases = select(func.count()).select_from(Case).where(Case.category_code == "10911")
        cases = s.scalar(price_cases)
        links = s.scalar(select(func.count()).select_from(PriceCase))
        entries = s.scalar(
            select(func.count()).select_from(LedgerEntry)
            .where(LedgerEntry.action == "medicare.price_case")
        )  # fmt: skip
        return int(cases or 0), int(links or 0), int(entries or 0)


def test_persistent_outlier_opens_one_case(market: Api) -> None:
    d = market.ctx.extras["ids"]["D"]
    first = check(market)
    assert (first["flagged"], first["persistent"], first["opened"]) == (1, 0, [])
    next_day(market)
    assert check(market)["opened"] == []
    next_day(market)
    third = check(market)  # the third consecutive check: persistent
    assert [o["stock_id"] for o in third["opened"]] == [d] and third["opened"][0]["streak"] == 3
    assert counts(market) == (1, 1, 1)
    assert check(market)["opened"] == []  # a re-run the same day
    next_day(market)
    assert check(market)["opened"] == []  # a fourth day of the same episode
    assert counts(market) == (1, 1, 1)
    with market.ctx.sessions() as s:
        case = s.scalars(select(Case).where(Case.category_code == "10911")).one()
        assert "P50010700103" in case.description and "+60.0%" in case.description


def test_a_cleared_outlier_starts_a_new_episode(market: Api) -> None:
    d = market.ctx.extras["ids"]["D"]
    for _ in range(3):
        check(market)
        next_day(market)
    put_price(market, d, 1200)
    assert check(market)["flagged"] == 0  # the episode ends
    put_price(market, d, 1920)
    opened = []
    for _ in range(3):
        next_day(market)
        opened += check(market)["opened"]
    assert len(opened) == 1 and opened[0]["joined"] is True  # the pharmacy's open case
    assert counts(market) == (1, 2, 2)

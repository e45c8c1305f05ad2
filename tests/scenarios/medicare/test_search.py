"""渝药易购 search over HTTP on both backends: drugs by name/pinyin/code, nearby offers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from cityops.scenarios.medicare import offers
from cityops.scenarios.medicare.models import Drug, Fixmedins, Stock
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit


@pytest.fixture
def market(api: Api) -> Api:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        api.ctx.extras["stock"] = kit.build(s)
    return api


def get(api: Api, path: str, **params: Any) -> Any:  # noqa: F811
    return api.client.get(f"/api/v1/medicare{path}", params=params)


def test_a_medicine_is_found_by_name_pinyin_initials_or_code(market: Api) -> None:
    by_name = get(market, "/drugs", q="阿莫西林").json()
    assert by_name["matched_by"] == "name"
    assert {d["hilist_code"] for d in by_name["items"]} == {kit.AMOX24, kit.AMOX36, kit.AMOX_OTHER}
    by_pinyin = get(market, "/drugs", q="blf").json()
    assert by_pinyin["matched_by"] == "pinyin"
    assert [d["hilist_code"] for d in by_pinyin["items"]] == [kit.IBU]
    by_code = get(market, "/drugs", q=kit.AMOX36.lower()).json()
    assert by_code["matched_by"] == "code" and by_code["items"][0]["pack_qty"] == 36
    prefix = get(market, "/drugs", q="XJ01CA").json()
    assert len(prefix["items"]) == 3


def test_bad_and_unknown_codes_are_refused_with_the_reason(market: Api) -> None:
    r = get(market, "/drugs", q="XJ01CAA001C00101010057")  # 22 characters
    assert r.status_code == 422 and r.json()["error"]["code"] == "drug_code_bad_length"
    r = get(market, "/offers", product="XJ01CAA0010001010100571", lat=kit.LAT, lng=kit.LNG)
    assert r.status_code == 422 and r.json()["error"]["code"] == "drug_code_bad_form_code"
    r = get(market, "/offers", product=kit.UNLISTED, lat=kit.LAT, lng=kit.LNG)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_drug_code"


def test_offers_are_the_same_product_in_any_pack_compared_by_unit_price(market: Api) -> None:
    r = get(market, "/offers", product=kit.AMOX24, lat=kit.LAT, lng=kit.LNG)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    # The 36-capsule pack 1.1 km away is cheaper per capsule than the 24 next door; the night
    # pharmacy (closed at 09:00), the one 50 km away and the other maker's product are not shown.
    assert [(i["fixmedins_code"], i["hilist_code"], i["unit_price"]) for i in items] == [
        ("P50010700002", kit.AMOX36, 40.0),
        ("P50010700001", kit.AMOX24, 50.0),
    ]
    by_distance = get(market, "/offers", product=kit.AMOX24, lat=kit.LAT, lng=kit.LNG,
                      sort="distance").json()["items"]  # fmt: skip
    assert [i["fixmedins_code"] for i in by_distance] == ["P50010700001", "P50010700002"]
    assert by_distance[0]["distance_m"] < 1 and 1050 < by_distance[1]["distance_m"] < 1150
    # Delivery estimate = 10 min preparation + distance at 250 m/min.
    assert by_distance[0]["eta_minutes"] == 10.0
    assert by_distance[1]["eta_minutes"] == pytest.approx(10 + 1112 / 250, abs=0.2)


def test_night_pharmacy_shows_after_midnight_and_sold_out_offers_vanish(market: Api) -> None:
    from datetime import timedelta

    market.clock.advance(timedelta(hours=16, minutes=30))  # Thursday 01:30 CST
    items = get(market, "/offers", product=kit.AMOX24, lat=kit.LAT, lng=kit.LNG).json()["items"]
    assert [i["fixmedins_code"] for i in items] == ["P50010700003", "P50010700002"]
    # Sold out since the index was loaded: gone at once, without waiting for the reload.
    with market.ctx.sessions.begin() as s:
        s.execute(update(Stock).where(Stock.id == market.ctx.extras["stock"]["NIGHT/" + kit.AMOX24])
                  .values(qty=0))  # fmt: skip
    items = get(market, "/offers", product=kit.AMOX24, lat=kit.LAT, lng=kit.LNG).json()["items"]
    assert [i["fixmedins_code"] for i in items] == ["P50010700002"]
    # Restocked at a new price: back at once, at that price.
    with market.ctx.sessions.begin() as s:
        s.execute(update(Stock).where(Stock.id == market.ctx.extras["stock"]["NIGHT/" + kit.AMOX24])
                  .values(qty=4, pric=2400))  # fmt: skip
    items = get(market, "/offers", product=kit.AMOX24, lat=kit.LAT, lng=kit.LNG).json()["items"]
    assert [(i["fixmedins_code"], i["pric"], i["qty"]) for i in items] == [
        ("P50010700002", 1440, 10), ("P50010700003", 2400, 4)]  # fmt: skip


def test_a_pharmacy_newly_stocking_the_product_shows_after_the_index_refresh(market: Api) -> None:
    def codes() -> list[str]:
        r = get(market, "/offers", product=kit.IBU, lat=kit.LAT, lng=kit.LNG, sort="distance")
        return [i["fixmedins_code"] for i in r.json()["items"]]

    assert codes() == ["P50010700001", "P50010700002"]
    with market.ctx.sessions.begin() as s:
        s.add(Stock(fixmedins_id=s.scalar(select(Fixmedins.id).where(
            Fixmedins.fixmedins_code == "P50010700004")), drug_id=s.scalar(select(Drug.id).where(
            Drug.hilist_code == kit.IBU)), pric=300, qty=1))  # fmt: skip
    market.ctx.extras["medicare_offers"].forget()  # what the TTL does on its own
    far = get(market, "/offers", product=kit.IBU, lat=kit.LAT + 0.45, lng=kit.LNG).json()
    assert [i["fixmedins_code"] for i in far["items"]] == ["P50010700004"]


def test_opening_hours_span_midnight_and_closed_days() -> None:
    ph = offers.Pharmacies.from_rows(
        [(1, 0, 0, [[1200, 1560]] * 7, 0), (2, 0, 0, [[480, 1320]] * 6 + [None], 0)]
    )
    rows = np.array([0, 1])
    assert offers.is_open(ph, rows, 2, 90).tolist() == [True, False]  # Wed 01:30
    assert offers.is_open(ph, rows, 2, 600).tolist() == [False, True]  # Wed 10:00
    assert offers.is_open(ph, rows, 6, 600).tolist() == [False, False]  # Sun: closed
    assert offers.is_open(ph, rows, 0, 1300).tolist() == [True, True]  # Mon 21:40


def test_delivery_sort_puts_pick_up_only_offers_last() -> None:
    a = offers.Offer(0, 900.0, 50.0, None)
    b = offers.Offer(1, 2000.0, 60.0, 18.0)
    c = offers.Offer(2, 100.0, 70.0, 10.4)
    assert [o.index for o in offers.order_by([a, b, c], offers.SortKey.delivery)] == [2, 1, 0]
    assert [o.index for o in offers.order_by([a, b, c], offers.SortKey.price)] == [0, 1, 2]

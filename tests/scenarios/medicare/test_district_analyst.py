"""A district's insurance analyst (区县医保局) on both backends: sees the price governance and
the clues of their own district only, may not act on another district's clue or price row, and
leaves city-wide work (the supervision run, the daily price check) to the city bureau."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from cityops.auth.models import Role
from cityops.auth.service import create_user
from cityops.errors import ValidationFailed
from cityops.scenarios.medicare import clues
from cityops.scenarios.medicare.models import Drug, Stock
from cityops.scenarios.medicare.supervise import Hit
from tests import citykit
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit
from tests.scenarios.medicare.test_prices_api import get, market  # noqa: F401

HOME, OTHER = "500107", "500108"


def _hit(rule: str, district: str, subject: str) -> Hit:
    return Hit(rule, "frequent_purchase", "suspect", "pharmacy", subject, district, "2026-11",
               {"rule_name": "频繁购药", "count": 5, "legal_basis": "条例第15条"})  # fmt: skip


@pytest.fixture
def bureau(market: Api) -> Api:  # noqa: F811
    """The city analyst (``analyst``), a 九龙坡 analyst (``jlp``), clues in two districts, and
    besides the market's 九龙坡 pharmacies one in 500108 selling the 24-pack at 1,920 fen (60 %
    over the listed price: an outlier there too)."""
    with market.ctx.sessions.begin() as s:
        far = kit._shop("P50010800001", citykit.Y0 + 0.003, citykit.X0 + 0.012, kit.ALL_DAY, 3000)
        far.admdvs = OTHER
        s.add(far)
        s.flush()
        drug_id = s.scalar(select(Drug.id).where(Drug.hilist_code == kit.AMOX24))
        row = Stock(fixmedins_id=far.id, drug_id=drug_id, pric=1920, qty=5)
        s.add(row)
        s.flush()
        market.ctx.extras["ids"]["FAR"] = row.id
        create_user(session=s, username="jlp", password=citykit.PASSWORD,
                    role=Role.insurance_analyst, scope_code=HOME,
                    display_name="九龙坡区医保局")  # fmt: skip
        clues.store_hits(session=s, hits=[_hit("R-FREQ-01", HOME, "P1"),
                                          _hit("R-FREQ-01", OTHER, "P2")],
                         at=market.ctx.clock.now())  # fmt: skip
    return market


def _clues(api: Api, who: str, **params: Any) -> Any:  # noqa: F811
    return api.client.get("/api/v1/medicare/clues", params=params, headers=api.headers(who))


def test_a_district_analyst_sees_only_their_district(bureau: Api) -> None:
    city = _clues(bureau, "analyst").json()
    assert {c["district"] for c in city["items"]} == {HOME, OTHER}
    mine = _clues(bureau, "jlp")
    assert mine.status_code == 200, mine.text
    assert [c["district"] for c in mine.json()["items"]] == [HOME]
    assert _clues(bureau, "jlp", district=HOME).json()["total"] == 1
    other = _clues(bureau, "jlp", district=OTHER)
    assert other.status_code == 403 and other.json()["error"]["code"] == "outside_jurisdiction"
    # Prices: the city analyst sees both districts' outliers, the 九龙坡 analyst only theirs.
    everywhere = get(bureau, "outliers").json()["items"]
    assert {i["admdvs"] for i in everywhere} == {HOME, OTHER}
    theirs = get(bureau, "outliers", who="jlp").json()["items"]
    assert theirs and {i["admdvs"] for i in theirs} == {HOME}
    assert get(bureau, "outliers", who="jlp", district=OTHER).status_code == 403
    far = get(bureau, "history", who="jlp", stock_id=bureau.ctx.extras["ids"]["FAR"])
    assert far.status_code == 403 and far.json()["error"]["code"] == "outside_jurisdiction"
    assert get(bureau, "map", who="jlp").status_code == 200
    assert (
        get(bureau, "history", who="jlp", stock_id=bureau.ctx.extras["ids"]["D"]).status_code == 200
    )


def test_a_district_analyst_acts_on_their_clues_only(bureau: Api) -> None:
    items = _clues(bureau, "analyst").json()["items"]
    theirs = next(c["id"] for c in items if c["district"] == OTHER)
    ours = next(c["id"] for c in items if c["district"] == HOME)
    body = {"reason": "已核实，非违规"}
    url = "/api/v1/medicare/clues/{}/dismiss"
    r = bureau.client.post(url.format(theirs), json=body, headers=bureau.headers("jlp"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_jurisdiction"
    r = bureau.client.post(url.format(ours), json=body, headers=bureau.headers("jlp"))
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    missing = bureau.client.post(url.format(99999), json=body, headers=bureau.headers("jlp"))
    assert missing.status_code == 404


def test_city_wide_work_is_the_city_bureaus(bureau: Api) -> None:
    run = bureau.client.post("/api/v1/medicare/supervision/run", json={},
                             headers=bureau.headers("jlp"))  # fmt: skip
    assert run.status_code == 403 and run.json()["error"]["code"] == "city_wide_only"
    check = bureau.client.post("/api/v1/medicare/prices/check", headers=bureau.headers("jlp"))
    assert check.status_code == 403 and check.json()["error"]["code"] == "city_wide_only"


def test_an_analysts_scope_is_a_district_or_none(bureau: Api) -> None:
    with bureau.ctx.sessions.begin() as s:
        with pytest.raises(ValidationFailed) as bad:
            create_user(session=s, username="street-analyst", password=citykit.PASSWORD,
                        role=Role.insurance_analyst, scope_code="500107001",
                        display_name="x")  # fmt: skip
        assert bad.value.code == "bad_scope"

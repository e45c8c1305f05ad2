"""家庭共济 made by the resident who provides, on both backends: every refusal, the masking, the
ledger, and that orders draw on a new binding and stop drawing on a cancelled one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select, update

from cityops.ledger.models import LedgerEntry
from cityops.scenarios.medicare.models import InsuredPerson, MutualAidBinding, Settlement
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit

URL = "/api/v1/medicare/me/bindings"


@pytest.fixture
def market(api: Api) -> Api:  # noqa: F811
    """resident holds EMP (职工, ¥10.00, already providing for KID); LONE is 李秀英 (居民)."""
    with api.ctx.sessions.begin() as s:
        kit.build(s)
        s.execute(
            update(InsuredPerson).where(InsuredPerson.psn_no == "LONE").values(psn_name="李秀英")
        )
    link(api, "resident", "EMP")
    return api


def link(api: Api, who: str, *psn_nos: str) -> None:  # noqa: F811
    uid = api.city.users[who].user_id
    with api.ctx.sessions.begin() as s:
        s.execute(
            update(InsuredPerson).where(InsuredPerson.psn_no.in_(psn_nos)).values(user_id=uid)
        )


def bind(api: Api, who: str = "resident", **body: Any) -> Any:  # noqa: F811
    payload = {"beneficiary_psn_no": "LONE", "beneficiary_name": "李秀英", "relation": "parent"}
    return api.client.post(URL, json={**payload, **body}, headers=api.headers(who))


def pay_ibu(api: Api, key: str) -> dict[str, Any]:  # noqa: F811
    r = api.client.post(
        "/api/v1/medicare/orders", headers={**api.headers("admin"), "Idempotency-Key": key},
        json={"psn_no": "LONE", "fixmedins_code": "P50010700001",
              "lines": [{"hilist_code": kit.IBU, "cnt": 1}]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    setl: dict[str, Any] = r.json()["settlements"][0]
    return setl


def counts(api: Api) -> tuple[int, int]:  # noqa: F811
    with api.ctx.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(MutualAidBinding)) or 0,
            s.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        )


def test_a_new_binding_pays_and_a_cancelled_one_no_longer_does(market: Api) -> None:
    assert pay_ibu(market, "before")["acct_mulaid_pay"] == 0
    r = bind(market)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["role"], made["provider_psn_no"], made["beneficiary_name"], made["relation"],
            made["active"]) == ("provider", "EMP", "李*英", "parent", True)  # fmt: skip
    setl = pay_ibu(market, "bound")
    assert (setl["acct_mulaid_pay"], setl["mulaid_psn_no"], setl["psn_cash_pay"]) == (
        500, "EMP", 0,
    )  # fmt: skip
    listed = market.client.get(URL, headers=market.headers("resident")).json()["items"]
    assert {(b["beneficiary_psn_no"], b["active"]) for b in listed} == {
        ("KID", True), ("LONE", True),
    }  # fmt: skip

    gone = market.client.delete(f"{URL}/{made['id']}", headers=market.headers("resident"))
    assert gone.status_code == 200, gone.text
    assert gone.json()["active"] is False and gone.json()["ended_at"] is not None
    setl = pay_ibu(market, "cancelled")
    assert (setl["acct_mulaid_pay"], setl["psn_cash_pay"]) == (0, 500)
    listed = market.client.get(URL, headers=market.headers("resident")).json()["items"]
    assert [b["beneficiary_psn_no"] for b in listed] == ["KID"]
    everything = market.client.get(
        URL, params={"include_ended": True}, headers=market.headers("resident")
    ).json()["items"]
    assert {(b["id"], b["active"]) for b in everything} >= {(made["id"], False)}
    with market.ctx.sessions() as s:  # the row stays, and so does the settlement that used it
        assert s.get(MutualAidBinding, made["id"]) is not None
        paid_by = s.scalars(select(Settlement.mulaid_psn_no).where(
            Settlement.psn_no == "LONE", Settlement.acct_mulaid_pay > 0)).all()  # fmt: skip
        assert paid_by == ["EMP"]
        entries = s.execute(
            select(LedgerEntry.action, LedgerEntry.payload)
            .where(LedgerEntry.subject == f"medicare_mulaid:{made['id']}")
            .order_by(LedgerEntry.seq)
        ).all()  # fmt: skip
    assert [a for a, _ in entries] == ["medicare.mulaid_bind", "medicare.mulaid_cancel"]
    assert json.loads(entries[0][1]) == {
        "provider_psn_no": "EMP", "beneficiary_psn_no": "LONE", "relation": "parent",
    }  # fmt: skip
    again = bind(market)  # a cancelled pair may be bound again
    assert again.status_code == 201 and again.json()["id"] != made["id"]


def test_every_refusal_has_its_code_and_writes_nothing(market: Api) -> None:
    before = counts(market)
    refusals = [
        ({"relation": "cousin"}, 422, "relation_not_allowed"),
        ({"beneficiary_psn_no": "EMP", "beneficiary_name": "EMP"}, 422, "cannot_bind_self"),
        ({"beneficiary_psn_no": "NOBODY"}, 404, "beneficiary_not_found"),
        ({"beneficiary_name": "李秀"}, 422, "name_mismatch"),
        ({"beneficiary_psn_no": "KID", "beneficiary_name": "KID"}, 409, "already_bound"),
        ({"beneficiary_psn_no": "SPOUSE", "beneficiary_name": "SPOUSE", "relation": "spouse"},
         409, "beneficiary_has_provider"),
        ({"provider_psn_no": "RICH"}, 403, "not_your_account"),
    ]  # fmt: skip
    for body, status, code in refusals:
        r = bind(market, **body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
    link(market, "resident2", "KID")  # a 居民 without an account cannot provide
    r = bind(market, "resident2")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "provider_has_no_account")
    r = bind(market, "resident2", provider_psn_no="KID")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "provider_has_no_account")
    assert bind(market, "admin").status_code == 403  # residents only
    market.ctx.settings = market.ctx.settings.model_copy(
        update={"medicare_mulaid_relations": "spouse,parent,child"}
    )
    r = bind(market, relation="sibling")  # a real relation, but not allowed here
    assert (r.status_code, r.json()["error"]["code"]) == (422, "relation_not_allowed")
    assert counts(market) == before


def test_only_the_provider_cancels_and_only_once(market: Api) -> None:
    link(market, "resident2", "KID")
    with market.ctx.sessions() as s:
        kid = s.scalars(select(MutualAidBinding.id).where(
            MutualAidBinding.beneficiary_psn_no == "KID")).one()  # fmt: skip
        rich = s.scalars(select(MutualAidBinding.id).where(
            MutualAidBinding.provider_psn_no == "RICH")).one()  # fmt: skip
    seen = market.client.get(URL, headers=market.headers("resident2")).json()["items"]
    assert [(b["role"], b["provider_psn_no"], b["provider_name"], b["beneficiary_psn_no"])
            for b in seen] == [("beneficiary", "EMP", "E*P", "KID")]  # fmt: skip
    before = counts(market)
    for who, bid, status, code in [
        ("resident2", kid, 403, "not_provider"),  # the beneficiary sees it but cannot end it
        ("resident", rich, 404, "binding_not_found"),  # someone else's
        ("resident", 999_999, 404, "binding_not_found"),
    ]:
        r = market.client.delete(f"{URL}/{bid}", headers=market.headers(who))
        assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert counts(market) == before
    assert market.client.delete(f"{URL}/{kid}", headers=market.headers("resident")).is_success
    r = market.client.delete(f"{URL}/{kid}", headers=market.headers("resident"))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "binding_ended")
    assert market.client.get(URL, headers=market.headers("resident2")).json()["items"] == []


def test_single_provider_rule_and_several_providers_in_one_login(market: Api) -> None:
    link(market, "resident", "EMP", "RICH")
    r = bind(market)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "provider_required")
    assert bind(market, provider_psn_no="RICH").status_code == 201
    r = bind(market, provider_psn_no="EMP")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "beneficiary_has_provider")
    market.ctx.settings = market.ctx.settings.model_copy(
        update={"medicare_mulaid_single_provider": False}
    )
    assert bind(market, provider_psn_no="EMP").status_code == 201
    mine = market.client.get(URL, headers=market.headers("resident")).json()["items"]
    # SPOUSE is not this login's person: masked to the last four characters.
    assert sorted((b["provider_psn_no"], b["beneficiary_psn_no"]) for b in mine) == [
        ("EMP", "KID"), ("EMP", "LONE"), ("RICH", "**OUSE"), ("RICH", "LONE"),
    ]  # fmt: skip

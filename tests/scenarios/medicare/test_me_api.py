"""The resident's own view of 渝药易购: the persons a login pays for, relatives masked, and
their orders with what each account paid."""

from __future__ import annotations

from sqlalchemy import update

from cityops.scenarios.medicare.me_api import mask_name, mask_no
from cityops.scenarios.medicare.models import InsuredPerson
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit


def test_masking() -> None:
    assert [mask_name(n) for n in ("张", "张三", "李秀英", "欧阳小明")] == [
        "*",
        "张*",
        "李*英",
        "欧**明",
    ]
    assert mask_no("DEMO500103000002") == "************0002"


def test_resident_sees_own_persons_relatives_masked_and_orders(api: Api) -> None:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        kit.build(s)
        uid = api.city.users["resident"].user_id
        s.execute(update(InsuredPerson).where(InsuredPerson.psn_no == "KID").values(user_id=uid))
        s.execute(
            update(InsuredPerson).where(InsuredPerson.psn_no == "EMP").values(psn_name="王大明")
        )
    me = api.headers("resident")
    persons = api.client.get("/api/v1/medicare/me/persons", headers=me).json()["items"]
    assert persons == [{
        "psn_no": "KID", "psn_name": "KID", "insutype": "390", "balc": None, "credits": [],
        "relatives": [{"psn_no": "EMP", "psn_name": "王*明", "relation": "child"}],
    }]  # fmt: skip
    r = api.client.post(
        "/api/v1/medicare/orders", headers={**me, "Idempotency-Key": "me-1"},
        json={"psn_no": "KID", "fixmedins_code": "P50010700001",
              "lines": [{"hilist_code": kit.IBU, "cnt": 1}]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    orders = api.client.get("/api/v1/medicare/me/orders", headers=me).json()["items"]
    assert [
        (o["status"], o["medfee_sumamt"], o["acct_pay"], o["acct_mulaid_pay"]) for o in orders
    ] == [("paid", 500, 0, 500)]
    other = api.client.get("/api/v1/medicare/me/orders", headers=api.headers("resident2"))
    assert other.json()["items"] == []
    assert (
        api.client.get("/api/v1/medicare/me/persons", headers=api.headers("admin")).status_code
        == 403
    )

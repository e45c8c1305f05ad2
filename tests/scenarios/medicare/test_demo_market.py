"""The demo's medicare side: the resident's persons linked once, the analyst account, and the
couriers moving orders along."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from cityops.auth.models import Role, User
from cityops.demo_medicare import OWN, advance_deliveries, link_resident
from cityops.scenarios.medicare.models import InsuredPerson, Order, OrderStatus
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit


def test_couriers_deliver_after_the_delay_and_link_runs_once(api: Api) -> None:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        kit.build(s)
        link_resident(s, api.clock.now())
        link_resident(s, api.clock.now())  # a second demo run adds nothing
        assert s.scalar(select(func.count()).where(InsuredPerson.psn_no == OWN)) == 1
        assert s.scalar(select(User.role).where(User.username == "resident")) == Role.resident
    r = api.client.post(
        "/api/v1/medicare/orders", headers={**api.headers("admin"), "Idempotency-Key": "c1"},
        json={"psn_no": "EMP", "fixmedins_code": "P50010700001", "delivery": True,
              "lat": kit.LAT, "lng": kit.LNG, "lines": [{"hilist_code": kit.IBU, "cnt": 1}]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    after = timedelta(seconds=30)

    def tick(seconds: int) -> OrderStatus:
        api.clock.advance(timedelta(seconds=seconds))
        with api.ctx.sessions.begin() as s:
            advance_deliveries(session=s, now=api.clock.now(), after=after)
            return s.scalars(select(Order.status)).one()

    assert tick(10) is OrderStatus.paid
    assert tick(25) is OrderStatus.delivering
    assert tick(10) is OrderStatus.delivering
    assert tick(25) is OrderStatus.delivered
    assert tick(60) is OrderStatus.delivered

"""基金监管 over the database on both backends: real 渝药易购 orders through the orders service,
a planted re-sold box (the same 追溯码 settled twice), a person buying one drug five times in a
month and three swipe→refunds; the run finds exactly those, stores each once however often it
runs (over HTTP or the CLI), and loads the same columns whatever the chunk size."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, update
from typer.testing import CliRunner

from cityops.auth.models import Role
from cityops.auth.service import create_user
from cityops.cli import app
from cityops.scenarios.medicare import supervision_load
from cityops.scenarios.medicare.models import Clue, FeeLine, Settlement
from tests import citykit
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit
from tests.scenarios.medicare.test_orders import NEAR, order, refund

RUN = "/api/v1/medicare/supervision/run"
NOV = {"from": "2026-11-01", "to": "2026-11-30"}


def _plant(api: Api) -> dict[str, Any]:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        kit.build(s, stock_qty=50)
        create_user(session=s, username="someone", password=citykit.PASSWORD,
                    role=Role.resident, scope_code=None, display_name="someone")  # fmt: skip
    ibu = [{"hilist_code": kit.IBU, "cnt": 1}]
    for i in range(5):  # 频繁购药: 5 settlements of one drug in November (> 4)
        assert order(api, f"f{i}", psn_no="LONE", lines=ibu).status_code == 200
    for i in range(3):  # 刷卡后短时退费: refunded the same minute
        no = order(api, f"r{i}", psn_no="KID", lines=ibu).json()["order_no"]
        assert refund(api, no, f"rr{i}").status_code == 200
    amox = [{"hilist_code": kit.AMOX24, "cnt": 1}]
    first = order(api, "t1", psn_no="RICH", lines=amox).json()
    api.clock.advance(timedelta(hours=2))
    second = order(api, "t2", psn_no="EMP", lines=amox).json()
    box = first["fee_lines"][0]["trace_codes"][0]
    with api.ctx.sessions.begin() as s:  # the pharmacy scans the first box again (回流药)
        setl_ids = [first["settlements"][0]["setl_id"], second["settlements"][0]["setl_id"]]
        s.execute(update(FeeLine).where(FeeLine.setl_id == setl_ids[1]).values(trace_codes=box))
        line_ids = [s.scalar(select(FeeLine.id).where(FeeLine.setl_id == x)) for x in setl_ids]
    api.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=api.ctx.settings.tz))  # not in November
    api.tokens.clear()  # the morning's tokens have expired
    assert order(api, "dec", psn_no="LONE", lines=ibu).status_code == 200
    return {"box": box, "lines": line_ids}


def test_a_run_over_the_orders_finds_the_planted_cases_once(api: Api) -> None:  # noqa: F811
    planted = _plant(api)
    r = api.client.post(RUN, json=NOV, headers=api.headers("admin"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["from"], out["to"], out["lines"]) == ("2026-11-01", "2026-11-30", 10)
    assert out["by_rule"] == {"R-FREQ-01": 1, "R-REFD-01": 1, "R-TRC-01": 1}
    assert out["created"] == 3 and out["rule_errors"] == [] and len(out["notes"]) == 2
    with api.ctx.sessions() as s:
        found = {(c.rule_id, c.subject_kind, c.subject, c.window, c.district)
                 for c in s.scalars(select(Clue))}  # fmt: skip
        trc = s.scalar(select(Clue).where(Clue.rule_id == "R-TRC-01"))
        assert trc is not None
        assert trc.evidence["trace_codes"] == [planted["box"]]
        assert trc.evidence["first_sold_line"] == {planted["box"]: planted["lines"][0]}
        assert trc.evidence["lines"] == [planted["lines"][1]]
    assert found == {
        ("R-FREQ-01", "person", "LONE", "2026-11", "500107"),
        ("R-REFD-01", "pharmacy", NEAR, "2026-11", "500107"),
        ("R-TRC-01", "pharmacy", NEAR, "2026-11", "500107"),
    }
    again = api.client.post(RUN, json=NOV, headers=api.headers("admin")).json()
    assert (again["hits"], again["created"]) == (3, 0)
    # The CLI is the same run: nothing new either, and the table names the rules.
    url = api.ctx.engine.url.render_as_string(hide_password=False)
    cli = CliRunner().invoke(app, ["medicare", "supervise", "--from", "2026-11-01",
                                   "--to", "2026-11-30", "--database-url", url])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert "10 fee lines" in cli.output and "R-TRC-01" in cli.output
    assert "3 hits: 0 new clues" in cli.output
    # December alone: one line, no clue; the default period is this month up to today.
    dec = api.client.post(RUN, json={}, headers=api.headers("admin")).json()
    assert (dec["from"], dec["to"], dec["lines"], dec["hits"]) == ("2026-12-01", "2026-12-01",
                                                                  1, 0)  # fmt: skip


def test_who_may_run_and_bad_periods(api: Api) -> None:  # noqa: F811
    _plant(api)
    assert api.client.post(RUN, json=NOV, headers=api.headers("someone")).status_code == 403
    bad = api.client.post(RUN, json={"from": "2026-11-30", "to": "2026-11-01"},
                          headers=api.headers("admin"))  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_period"
    long = {"from": "2025-01-01", "to": "2026-11-30"}
    assert api.client.post(RUN, json=long, headers=api.headers("admin")).status_code == 422
    nope = api.client.post(RUN, json={"from": "nope"}, headers=api.headers("admin"))
    assert nope.status_code == 422
    cli = CliRunner().invoke(app, ["medicare", "supervise", "--from", "2026-13-01"])
    assert cli.exit_code == 2 and "--from/--to" in cli.output


def test_chunks_load_the_same_columns_and_unknowns_stay_unknown(api: Api) -> None:  # noqa: F811
    _plant(api)
    tz = api.ctx.settings.tz
    p = supervision_load.period(date(2026, 11, 1), date(2026, 11, 30), tz)
    with api.ctx.sessions() as s:
        small = supervision_load.load_transactions(session=s, p=p, tz=tz, chunk=3)
        whole = supervision_load.load_transactions(session=s, p=p, tz=tz, chunk=10_000)
        refunded = s.scalar(select(Settlement.setl_time).where(Settlement.refd_setl_flag == "1"))
    for name in ("line_id", "setl", "psn", "inst", "item", "minute", "amount", "acct_pay",
                 "refund_minute", "trace_row", "trace_code"):  # fmt: skip
        assert np.array_equal(getattr(small, name), getattr(whole, name)), name
    assert len(whole) == 10 and (whole.sex == 0).all() and (whole.age == -1).all()
    assert (whole.refund_minute >= 0).sum() == 3 and set(whole.med_type.tolist()) == {41}
    # 09:00 in Chongqing is minute 540 of the local day
    assert int(whole.minute[0] % 1440) == 540 and refunded is not None
    # LONE paid with cash only, KID from EMP's account by 家庭共济: the account share follows
    lone = whole.persons.index("LONE")
    assert (whole.acct_pay[whole.psn == lone] == 0).all()
    kid = whole.persons.index("KID")
    assert (whole.acct_pay[whole.psn == kid] == whole.amount[whole.psn == kid]).all()

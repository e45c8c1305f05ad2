"""基金监管 over the database on both backends: real 渝药易购 orders through the orders service,
a planted re-sold box (the same 追溯码 settled twice), a person buying one drug five times in a
month and three swipe→refunds; the run finds exactly those, stores each once however often it
runs (over HTTP or the CLI), and loads the same columns whatever the chunk size."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, update
from typer.testing import CliRunner

from cityops.auth.models import Role
from cityops.auth.service import create_user
from cityops.cli import app
from cityops.scenarios.medicare import supervision_load
from cityops.scenarios.medicare.models import (
    Clue,
    FeeLine,
    Fixmedins,
    FixmedinsType,
    Settlement,
    Stock,
)
from cityops.scenarios.medicare.supervision_jobs import SupervisionJob, jobs_of
from tests import citykit
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit
from tests.scenarios.medicare.test_orders import NEAR, order, refund

RUN = "/api/v1/medicare/supervision/run"
RUNS = "/api/v1/medicare/supervision/runs"
NOV = {"from": "2026-11-01", "to": "2026-11-30"}


def supervise(api: Api, body: dict[str, str]) -> dict[str, Any]:  # noqa: F811
    """Start a run as the analyst's page does and wait for its job to finish."""
    r = api.client.post(RUN, json=body, headers=api.headers("admin"))
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "running" and job["result"] is None
    for _ in range(600):
        got = api.client.get(f"{RUNS}/{job['id']}", headers=api.headers("admin"))
        assert got.status_code == 200, got.text
        job = got.json()
        if job["status"] != "running":
            break
        time.sleep(0.05)
    assert job["status"] == "done" and job["error"] is None, job
    assert job["finished_at"] is not None
    return dict(job["result"])


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
    out = supervise(api, NOV)
    assert (out["from"], out["to"], out["lines"]) == ("2026-11-01", "2026-11-30", 10)
    assert out["by_rule"] == {"R-FREQ-01": 1, "R-REFD-01": 1, "R-TRC-01": 1}
    assert out["created"] == 3 and out["rule_errors"] == [] and len(out["notes"]) == 1
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
    again = supervise(api, NOV)
    assert (again["hits"], again["created"]) == (3, 0)
    # The CLI is the same run: nothing new either, and the table names the rules.
    url = api.ctx.engine.url.render_as_string(hide_password=False)
    cli = CliRunner().invoke(app, ["medicare", "supervise", "--from", "2026-11-01",
                                   "--to", "2026-11-30", "--database-url", url])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert "10 fee lines, 0 stays" in cli.output and "R-TRC-01" in cli.output
    assert "3 hits: 0 new clues" in cli.output
    # December alone: one line, no clue; the default period is this month up to today.
    dec = supervise(api, {})
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


def test_one_run_at_a_time_and_the_job_list(api: Api) -> None:  # noqa: F811
    _plant(api)
    first = supervise(api, NOV)
    assert first["created"] == 3
    jobs = jobs_of(api.ctx)
    period = supervision_load.period(date(2026, 11, 1), date(2026, 11, 2), api.ctx.settings.tz)
    stuck = SupervisionJob("a-long-month", period, api.ctx.clock.now())  # still running
    jobs._jobs[stuck.id] = stuck
    r = api.client.post(RUN, json=NOV, headers=api.headers("admin"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "supervision_running"
    assert stuck.id in r.json()["error"]["message"]
    listed = api.client.get(RUNS, headers=api.headers("admin")).json()
    assert [j["id"] for j in listed] == [stuck.id, listed[1]["id"]]
    assert listed[1]["result"]["created"] == 3
    missing = api.client.get(f"{RUNS}/nope", headers=api.headers("admin"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "run_not_found"
    assert api.client.get(RUNS, headers=api.headers("someone")).status_code == 403


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
    assert len(whole) == 10 and set(whole.sex.tolist()) == {1, 2} and (whole.age >= 9).all()
    assert (whole.refund_minute >= 0).sum() == 3 and set(whole.med_type.tolist()) == {41}
    # 09:00 in Chongqing is minute 540 of the local day
    assert int(whole.minute[0] % 1440) == 540 and refunded is not None
    # LONE paid with cash only, KID from EMP's account by 家庭共济: the account share follows
    lone = whole.persons.index("LONE")
    assert (whole.acct_pay[whole.psn == lone] == 0).all()
    kid = whole.persons.index("KID")
    assert (whole.acct_pay[whole.psn == kid] == whole.amount[whole.psn == kid]).all()


APALUTAMIDE = "XL02BBA999A001010100001"  # R-SEX-01: men only
CHILD_SYRUP = "ZA04BAE0002010100001"  # R-AGE-01: 14 and under


def test_sex_and_age_restrictions_hit_on_real_orders(api: Api) -> None:  # noqa: F811
    """A woman buying a men-only drug and an adult buying a children's medicine are found from
    the persons' gend/brdy; the man and the child buying the same are not."""
    with api.ctx.sessions.begin() as s:
        kit.build(s, stock_qty=50)
        near = s.scalar(select(Fixmedins.id).where(Fixmedins.fixmedins_code == NEAR))
        for code, name, form in ((APALUTAMIDE, "阿帕他胺片", "片剂"),
                                 (CHILD_SYRUP, "儿童清肺口服液", "合剂")):  # fmt: skip
            drug = kit._drug(code, name, "00001", "60mg", 10, False)
            drug.kind, drug.dosage_form = ("patent" if code[0] == "Z" else "western"), form
            s.add(drug)
            s.flush()
            s.add(Stock(fixmedins_id=near, drug_id=drug.id, pric=2000, qty=20))
        s.add_all([  # hospitals: graded 一级, and one without a grade
            Fixmedins(fixmedins_code=f"H5001070000{i}", fixmedins_name=f"医院{i}",
                      fixmedins_type=FixmedinsType.hospital, admdvs="500107", lat=kit.LAT,
                      lng=kit.LNG, cell=0, opening_hours=kit.ALL_DAY, hosp_lv=lv)
            for i, lv in ((1, 1), (2, None))
        ])  # fmt: skip
    buys = {"LONE": APALUTAMIDE, "EMP": APALUTAMIDE, "RICH": CHILD_SYRUP, "KID": CHILD_SYRUP}
    for psn, code in buys.items():
        r = order(api, f"k-{psn}", psn_no=psn, lines=[{"hilist_code": code, "cnt": 1}])
        assert r.status_code == 200, r.text
    out = supervise(api, NOV)
    assert out["by_rule"] == {"R-SEX-01": 1, "R-AGE-01": 1}, out
    with api.ctx.sessions() as s:
        clues = {c.rule_id: c for c in s.scalars(select(Clue))}
        tz = api.ctx.settings.tz
        p = supervision_load.period(date(2026, 11, 1), date(2026, 11, 30), tz)
        t = supervision_load.load_transactions(session=s, p=p, tz=tz)
    assert clues["R-SEX-01"].evidence["persons"] == ["LONE"]
    assert clues["R-AGE-01"].evidence["persons"] == ["RICH"]
    assert clues["R-SEX-01"].subject == NEAR
    # KID (born 2016-11-30) is 9 on 2026-11-25; the hospitals' grades: 1, unknown → 三级
    ages = {t.persons[int(p)]: int(a) for p, a in zip(t.psn, t.age, strict=True)}
    sexes = {t.persons[int(p)]: int(x) for p, x in zip(t.psn, t.sex, strict=True)}
    assert ages == {"LONE": 65, "EMP": 46, "RICH": 47, "KID": 9}
    assert sexes == {"LONE": 2, "EMP": 1, "RICH": 1, "KID": 2}
    assert t.institutions.level.tolist()[-2:] == [1, 3]


def test_age_is_whole_years_on_the_day() -> None:
    assert supervision_load.age_on(date(2016, 11, 30), date(2026, 11, 29)) == 9
    assert supervision_load.age_on(date(2016, 11, 30), date(2026, 11, 30)) == 10
    assert supervision_load.age_on(date(2000, 2, 29), date(2001, 2, 28)) == 0
    assert supervision_load.age_on(date(2000, 2, 29), date(2001, 3, 1)) == 1
    assert supervision_load.age_on(None, date(2026, 1, 1)) == -1

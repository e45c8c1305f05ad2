"""Stored discharges on both backends: import over HTTP and from a CSV file (each bad row with its
row and reason, a second import storing nothing new, one ledger entry a batch), a month grouped
in the database with its results on the rows and CMI by hospital, and 分解住院 found over the
stored stays: a readmission within 15 days is one clue, one after 20 days none."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cityops.auth.models import Role
from cityops.auth.service import create_user
from cityops.cli import app
from cityops.demo_medicare import DEMO_DISCHARGES, seed_medicare
from cityops.ledger.models import LedgerEntry
from cityops.scenarios.medicare.discharge_models import Discharge
from cityops.scenarios.medicare.discharges import IMPORT_FIELDS
from cityops.scenarios.medicare.models import Clue, Fixmedins, FixmedinsType
from tests import citykit
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit
from tests.scenarios.medicare.test_supervision_db import NOV, supervise

IMPORT = "/api/v1/medicare/discharges"
MONTH = "/api/v1/medicare/drg/month"
BATCH = "/api/v1/medicare/drg/batch"
H1, H2 = "H50010700001", "H50010700002"  # 三级 and 二级, district 500107


def stay(mdtrt_id: str, adm: str, dscg: str, **kw: Any) -> dict[str, Any]:
    """An appendicectomy (GD1) at H1 unless told otherwise."""
    return {
        "id": mdtrt_id, "psn_no": "P1", "hospital": H1, "sex": 1, "age": 35,
        "principal_dx": "K35.800", "procedures": ["47.0901"], "cost_fen": 1_500_000,
        "adm_time": adm, "dscg_time": dscg, **kw,
    }  # fmt: skip


@pytest.fixture
def analyst(api: Api) -> str:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        create_user(
            session=s,
            username="analyst",
            password=citykit.PASSWORD,
            role=Role.insurance_analyst,
            scope_code=None,
            display_name="医保分析员",
        )
        create_user(
            session=s,
            username="jlp",
            password=citykit.PASSWORD,
            role=Role.insurance_analyst,
            scope_code="500107",
            display_name="九龙坡区医保局",
        )
        create_user(
            session=s,
            username="someone",
            password=citykit.PASSWORD,
            role=Role.resident,
            scope_code=None,
            display_name="someone",
        )
        s.add_all([
            Fixmedins(fixmedins_code=code, fixmedins_name=f"医院{lv}", admdvs="500107",
                      fixmedins_type=FixmedinsType.hospital, lat=kit.LAT, lng=kit.LNG, cell=0,
                      opening_hours=kit.ALL_DAY, hosp_lv=lv)
            for code, lv in ((H1, 3), (H2, 2))
        ])  # fmt: skip
    return "analyst"


def post(api: Api, url: str, body: Any, who: str = "analyst") -> Any:  # noqa: F811
    return api.client.post(url, json=body, headers=api.headers(who))


def ledger_entries(api: Api) -> list[LedgerEntry]:  # noqa: F811
    with api.ctx.sessions() as s:
        q = select(LedgerEntry).where(LedgerEntry.action == "medicare_discharges_imported")
        return list(s.scalars(q.order_by(LedgerEntry.seq)))


def test_import_reports_each_bad_row_and_a_second_import_adds_nothing(
    api: Api,  # noqa: F811
    analyst: str,
) -> None:
    rows = [
        stay("a", "2026-11-01T08:00", "2026-11-05T10:00"),
        stay(
            "b",
            "2026-11-02",
            "2026-11-06",
            hospital=H2,
            principal_dx="J18.900",
            procedures=[],
            psn_no="P2",
            sex=2,
        ),
        stay("c", "2026-11-01", "2026-11-03", principal_dx="K35800"),
        stay("d", "2026-11-01", "2026-11-03", sex=None),
        stay("e", "2026-11-05T10:00", "2026-11-01T08:00"),
        stay("f", "2026-11-01", "2026-11-03", hospital="H99999999999"),
        stay("a", "2026-11-01", "2026-11-03"),
        stay("g", "", "2026-11-03"),
    ]
    r = post(api, IMPORT, {"records": rows})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["rows"], out["imported"], out["skipped"]) == (8, 2, [])
    why = {(i["index"], i["id"], i["code"]): i["reason"] for i in out["refused"]}
    assert set(why) == {(2, "c", "invalid_icd"), (3, "d", "invalid_record"),
                        (4, "e", "discharge_before_admission"), (5, "f", "unknown_hospital"),
                        (6, "a", "duplicate_mdtrt_id"), (7, "g", "invalid_record")}  # fmt: skip
    assert "sex is required" in why[(3, "d", "invalid_record")]
    assert "before admission" in why[(4, "e", "discharge_before_admission")]
    assert "H99999999999" in why[(5, "f", "unknown_hospital")]
    assert "adm_time is required" in why[(7, "g", "invalid_record")]
    with api.ctx.sessions() as s:
        got = {d.mdtrt_id: d for d in s.scalars(select(Discharge))}
    assert set(got) == {"a", "b"}
    a = got["a"]
    assert (a.psn_no, a.fixmedins_code, a.hosp_lv, a.gend, a.dscg_maindiag_code) == (
        "P1", H1, 3, "1", "K35.800")  # fmt: skip
    assert (a.procedures, a.ipt_days, a.medfee_sumamt, a.drg_code) == (["47.0901"], 4,
                                                                       1_500_000, None)  # fmt: skip
    assert got["b"].hosp_lv == 2  # from the registered hospital
    entries = ledger_entries(api)
    assert len(entries) == 1 and entries[0].actor == "user:analyst"
    assert '"imported":2' in entries[0].payload and '"refused":6' in entries[0].payload
    again = post(api, IMPORT, {"records": rows[:2]}).json()
    assert (again["imported"], [(i["index"], i["code"]) for i in again["skipped"]]) == (
        0, [(0, "already_imported"), (1, "already_imported")])  # fmt: skip
    assert len(ledger_entries(api)) == 2
    assert post(api, IMPORT, {"records": rows[:1]}, "someone").status_code == 403
    district = post(api, IMPORT, {"records": rows[:1]}, "jlp")  # city-wide work
    assert district.status_code == 403 and district.json()["error"]["code"] == "city_wide_only"
    big = post(api, IMPORT, {"records": [rows[0]] * 1001})
    assert big.status_code == 413 and big.json()["error"]["code"] == "batch_too_large"


def test_the_cli_imports_a_file_once(api: Api, analyst: str, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "discharges.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=IMPORT_FIELDS)
        w.writeheader()
        for row in (stay("a", "2026-11-01", "2026-11-05"),
                    stay("b", "2026-11-01", "2026-11-05", principal_dx="nope"),
                    stay("c", "2026-11-02", "2026-11-04", emergency="1")):  # fmt: skip
            w.writerow({**row, "procedures": ";".join(row["procedures"])})
    url = api.ctx.engine.url.render_as_string(hide_password=False)
    cmd = ["medicare", "discharges", "import", str(path), "--database-url", url]
    first = CliRunner().invoke(app, cmd)
    assert first.exit_code == 1, first.output
    assert "discharges.csv:3: refused (invalid_icd)" in first.output
    assert "3 rows: 2 imported, 0 already imported (skipped), 1 refused" in first.output
    second = CliRunner().invoke(app, cmd)
    assert "3 rows: 0 imported, 2 already imported (skipped), 1 refused" in second.output
    with api.ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Discharge)) == 2
        assert s.scalar(select(Discharge.emergency).where(Discharge.mdtrt_id == "c")) is True
    assert len(ledger_entries(api)) == 2


def test_a_month_is_grouped_in_the_database_and_regrouping_changes_nothing(
    api: Api,  # noqa: F811
    analyst: str,
) -> None:
    nov = [
        stay("a", "2026-11-01", "2026-11-05", other_dx=["J18.900"]),
        stay("b", "2026-11-10", "2026-11-14", psn_no="P2"),
        stay(
            "c",
            "2026-11-20",
            "2026-11-30T23:30",
            hospital=H2,
            principal_dx="J18.900",
            procedures=[],
            psn_no="P3",
            cost_fen=600_000,
        ),
    ]
    october = stay("z", "2026-10-20", "2026-10-31T23:30", psn_no="P4")
    assert post(api, IMPORT, {"records": [*nov, october]}).json()["imported"] == 4
    r = post(api, MONTH, {"month": "2026-11"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["month"], out["stored"], out["cases"]) == ("2026-11", 3, 3)
    # The same figures as grouping the records in a request (levels as stored: 三级, 二级)
    levels = {H1: "三级", H2: "二级"}
    same = post(api, BATCH, {"records": [{**x, "hospital_level": levels[x["hospital"]]}
                                         for x in nov]}).json()  # fmt: skip
    assert out["hospitals"] == same["hospitals"] and out["cmi"] == same["cmi"]
    assert {h["hospital"]: h["cases"] for h in out["hospitals"]} == {H1: 2, H2: 1}
    assert all(h["paid_fen"] for h in out["hospitals"])
    with api.ctx.sessions() as s:
        rows = {d.mdtrt_id: d for d in s.scalars(select(Discharge))}
    a = rows["a"]
    assert (a.drg_code, a.drg_status, a.adrg, a.mdc) == ("GD11", "grouped", "GD1", "G")
    assert a.weight_e4 and a.paid_fen and a.grouped_at is not None and a.trace
    assert rows["z"].drg_code is None  # October is not November
    first = {k: (d.drg_code, d.weight_e4, d.paid_fen, d.trace) for k, d in rows.items()}
    api.clock.advance(timedelta(hours=1))
    assert post(api, MONTH, {"month": "2026-11"}).json() == out
    with api.ctx.sessions() as s:
        again = {d.mdtrt_id: d for d in s.scalars(select(Discharge))}
    assert {k: (d.drg_code, d.weight_e4, d.paid_fen, d.trace) for k, d in again.items()} == first
    assert post(api, MONTH, {"month": "2026-13"}).status_code == 422
    assert post(api, MONTH, {"month": "2026-11"}, "someone").status_code == 403
    assert post(api, MONTH, {"month": "2026-11"}, "jlp").status_code == 403
    url = api.ctx.engine.url.render_as_string(hide_password=False)
    cli = CliRunner().invoke(app, ["medicare", "drg-month", "2026-11", "--database-url", url])
    assert cli.exit_code == 0, cli.output
    assert "3 discharges grouped and stored" in cli.output and H2 in cli.output


def test_a_readmission_within_15_days_is_one_clue_over_the_database(
    api: Api,  # noqa: F811
    analyst: str,
) -> None:
    """P1 leaves H1 on 2 November (admitted in October) and is back with the same disease
    family (K35) on the 10th: one clue. P2 returns after 20 days, P3 as an emergency, P4 to
    the other hospital, P5 with another disease: none of those."""
    rows = [
        stay("p1-a", "2026-10-28", "2026-11-02"),
        stay("p1-b", "2026-11-10", "2026-11-14", principal_dx="K35.100"),
        stay("p2-a", "2026-11-01", "2026-11-04", psn_no="P2"),
        stay("p2-b", "2026-11-24", "2026-11-27", psn_no="P2"),
        stay("p3-a", "2026-11-01", "2026-11-04", psn_no="P3"),
        stay("p3-b", "2026-11-06", "2026-11-09", psn_no="P3", emergency=True),
        stay("p4-a", "2026-11-01", "2026-11-04", psn_no="P4"),
        stay("p4-b", "2026-11-06", "2026-11-09", psn_no="P4", hospital=H2),
        stay("p5-a", "2026-11-01", "2026-11-04", psn_no="P5"),
        stay(
            "p5-b", "2026-11-06", "2026-11-09", psn_no="P5", principal_dx="J18.900", procedures=[]
        ),
    ]
    assert post(api, IMPORT, {"records": rows}).json()["imported"] == 10
    out = supervise(api, NOV)
    assert out["by_rule"] == {"R-READM-01": 1} and out["discharges"] == 10, out
    with api.ctx.sessions() as s:
        clues = list(s.scalars(select(Clue)))
    assert [(c.rule_id, c.subject_kind, c.subject, c.window, c.district) for c in clues] == [
        ("R-READM-01", "hospital", H1, "2026-11", "500107")
    ]
    ev = clues[0].evidence
    assert (ev["readmissions"], ev["gap_days"], ev["persons"]) == ([["p1-a", "p1-b"]], [8],
                                                                  ["P1"])  # fmt: skip
    assert supervise(api, NOV)["created"] == 0  # once, however often it runs
    # October's run sees P1's first stay only as its own month's: no readmission there
    assert supervise(api, {"from": "2026-10-01", "to": "2026-10-31"})["by_rule"] == {}


def test_the_demo_stores_last_month_grouped_and_its_planted_readmissions_are_found(
    api: Api,  # noqa: F811
) -> None:
    """The demo's medicare seeding stores last month's discharges (grouped) at the market's
    hospitals; supervising that month finds planted 分解住院; ``cityops sim discharges`` for
    the same month then stores nothing new."""
    assert seed_medicare(ctx=api.ctx, password=citykit.PASSWORD, at=api.clock.now())
    with api.ctx.sessions() as s:
        n = s.scalar(select(func.count()).select_from(Discharge))
        ungrouped = s.scalar(select(func.count()).where(Discharge.grouped_at.is_(None)))
        months = {d.strftime("%Y-%m") for d in s.scalars(select(Discharge.dscg_time))}
        hospitals = set(s.scalars(select(Discharge.fixmedins_code)))
        registered = set(s.scalars(select(Fixmedins.fixmedins_code)))
    assert n is not None and n >= DEMO_DISCHARGES and ungrouped == 0
    assert hospitals <= registered and months == {"2026-10"}
    out = supervise(api, {"from": "2026-10-01", "to": "2026-10-31"})
    assert out["by_rule"].get("R-READM-01", 0) >= 1 and out["discharges"] == n
    url = api.ctx.engine.url.render_as_string(hide_password=False)
    cli = CliRunner().invoke(app, ["sim", "discharges", "--month", "2026-10", "--cases",
                                   str(DEMO_DISCHARGES), "--database-url", url])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert "0 discharges of 2026-10 stored" in cli.output

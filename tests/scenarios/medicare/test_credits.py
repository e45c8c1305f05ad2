"""个人账户划入 on both backends: a month's credits raise the employees' balances once, each with
a ledger entry; residents' insurance has no account; bad rows are refused with their reason; the
same file twice credits nobody twice; the resident sees the credit; only the city bureau posts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from typer.testing import CliRunner

from cityops.auth.models import Role
from cityops.auth.service import create_user
from cityops.cli import app
from cityops.ledger import service as ledger
from cityops.ledger.models import LedgerEntry
from cityops.scenarios.medicare.credit_models import AccountCredit
from cityops.scenarios.medicare.models import Account, InsuredPerson
from tests import citykit
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare import kit

URL = "/api/v1/medicare/accounts/credits"


def _balances(api: Api) -> dict[str, int]:  # noqa: F811
    with api.ctx.sessions() as s:
        return {p: b for p, b in s.execute(select(Account.psn_no, Account.balc))}


def _market(api: Api) -> None:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        kit.build(s, emp_balance=1000)
        s.add(
            InsuredPerson(psn_no="NEWHIRE", psn_name="新入职", insutype="310", insu_admdvs="500107")
        )  # fmt: skip  (no account row yet)
        s.flush()
        uid = api.city.users["resident"].user_id
        s.execute(update(InsuredPerson).where(InsuredPerson.psn_no == "EMP").values(user_id=uid))
        create_user(session=s, username="jlp", password=citykit.PASSWORD,
                    role=Role.insurance_analyst, scope_code="500107",
                    display_name="区医保局")  # fmt: skip


def _post(api: Api, items: list[dict[str, Any]], who: str = "admin") -> Any:  # noqa: F811
    body = {"source": "2026-11 划入文件", "items": items}
    return api.client.post(URL, json=body, headers=api.headers(who))


def test_a_month_of_credits_raises_each_balance_once(api: Api) -> None:  # noqa: F811
    _market(api)
    items = [
        {"psn_no": "EMP", "period": "2026-11", "amount": 23000},
        {"psn_no": "RICH", "period": "2026-11", "amount": 15000, "kind": "retiree"},
        {"psn_no": "NEWHIRE", "period": "2026-11", "amount": 8000},
        {"psn_no": "KID", "period": "2026-11", "amount": 5000},  # 城乡居民: no account
        {"psn_no": "NOBODY", "period": "2026-11", "amount": 5000},
        {"psn_no": "EMP", "period": "2026-11", "amount": 23000},  # the same row twice
    ]
    r = _post(api, items)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["credited"], out["already"], out["amount"]) == (3, 0, 46000)
    assert [(e["index"], e["code"]) for e in out["errors"]] == [
        (5, "duplicate_in_batch"), (3, "no_personal_account"), (4, "unknown_person"),
    ]  # fmt: skip
    assert _balances(api) == {"EMP": 24000, "RICH": 20000, "SPOUSE": 0, "NEWHIRE": 8000}
    with api.ctx.sessions() as s:
        entries = s.scalars(select(LedgerEntry).where(
            LedgerEntry.action == "medicare.account_credit")).all()  # fmt: skip
        assert sorted(e.subject for e in entries) == [
            "medicare_account:EMP",
            "medicare_account:NEWHIRE",
            "medicare_account:RICH",
        ]
        assert ledger.verify(session=s).ok
    # The same file again: nothing moves; a new month credits again.
    again = _post(api, items[:3]).json()
    assert (again["credited"], again["already"]) == (0, 3)
    december = _post(api, [{"psn_no": "EMP", "period": "2026-12", "amount": 23000}]).json()
    assert december["credited"] == 1
    assert _balances(api)["EMP"] == 47000
    # The resident sees their credits, newest first, with the balance after each.
    persons = api.client.get("/api/v1/medicare/me/persons",
                             headers=api.headers("resident")).json()["items"]  # fmt: skip
    emp = next(p for p in persons if p["psn_no"] == "EMP")
    assert [(c["period"], c["amount"], c["balc_after"]) for c in emp["credits"]] == [
        ("2026-12", 23000, 47000),
        ("2026-11", 23000, 24000),
    ]


def test_bad_requests_and_who_may_post(api: Api) -> None:  # noqa: F811
    _market(api)
    good = [{"psn_no": "EMP", "period": "2026-11", "amount": 100}]
    for bad in ({"period": "2026-13"}, {"amount": 0}, {"amount": 10_000_001}, {"kind": "gift"}):
        r = _post(api, [{**good[0], **bad}])
        assert r.status_code == 422, (bad, r.text)
    assert _post(api, []).status_code == 422
    assert _post(api, good, who="resident").status_code == 403
    district = _post(api, good, who="jlp")
    assert district.status_code == 403 and district.json()["error"]["code"] == "city_wide_only"
    assert _balances(api)["EMP"] == 1000


def test_the_cli_imports_a_file_once(api: Api, tmp_path: Path) -> None:  # noqa: F811
    _market(api)
    path = tmp_path / "credits.csv"
    path.write_text("psn_no,amount,kind\nEMP,23000,contribution\nRICH,abc,retiree\n"
                    "KID,100,contribution\n", encoding="utf-8")  # fmt: skip
    url = api.ctx.engine.url.render_as_string(hide_password=False)
    args = ["medicare", "credit", str(path), "--period", "2026-11", "--database-url", url]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 1, first.output
    assert "1 credited" in first.output and "2 refused" in first.output
    assert "line 3" in first.output and "line 4: no_personal_account" in first.output
    second = CliRunner().invoke(app, args)
    assert "0 credited" in second.output and "1 already credited" in second.output
    with api.ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AccountCredit)) == 1
    assert _balances(api)["EMP"] == 24000


def test_the_same_file_posted_twice_at_once_credits_once(api: Api) -> None:  # noqa: F811
    _market(api)
    items = [{"psn_no": p, "period": "2026-11", "amount": 1000} for p in ("EMP", "RICH")]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: _post(api, items), range(4)))
    assert all(r.status_code == 200 for r in outs), [r.text for r in outs]
    assert sorted(r.json()["credited"] for r in outs) == [0, 0, 0, 2]
    assert _balances(api) == {"EMP": 2000, "RICH": 6000, "SPOUSE": 0}

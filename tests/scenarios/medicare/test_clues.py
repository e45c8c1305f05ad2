"""基金监管线索 over HTTP on both backends: a run stores each hit once however often it runs, the
list filters and masks person numbers, 立案 makes a case through the case engine with ledger
entries, 排除 closes a clue, and only analysts and the city admin may do any of it."""

from __future__ import annotations

from sqlalchemy import select

from cityops.auth.models import Role
from cityops.auth.service import create_user
from cityops.cases.models import Case
from cityops.ledger.models import LedgerEntry
from cityops.scenarios.medicare import clues
from cityops.scenarios.medicare.models import Clue
from cityops.scenarios.medicare.supervision_rules import Rule, RuleSet
from tests import citykit
from tests.api.conftest import Api, api  # noqa: F401
from tests.citykit import X0, Y0
from tests.scenarios.medicare.fundsup_kit import lines
from tests.scenarios.medicare.kit import _shop

URL = "/api/v1/medicare/clues"
BASE = {"name": "超量", "severity": "suspect", "legal_basis": "条例第15条"}
RULES = RuleSet(1, (
    Rule.model_validate({"id": "Q", "type": "over_quantity", "threshold": 10, **BASE}),
    Rule.model_validate({"id": "F", "type": "frequent_purchase", "threshold": 1, **BASE}),
), ())  # fmt: skip
DATA = lines([{"cnt": 20, "inst": "P1"}, {"cnt": 30, "inst": "P2", "psn": 4, "day": 1},
              {"psn": 4, "day": 2, "inst": "P2"}])  # fmt: skip


def _setup(api: Api) -> None:  # noqa: F811
    with api.ctx.sessions.begin() as s:
        for who, role in (("analyst", Role.insurance_analyst), ("someone", Role.resident)):
            create_user(session=s, username=who, password=citykit.PASSWORD, role=role,
                        scope_code=None, display_name=who)  # fmt: skip
        s.add_all(
            [_shop("P1", Y0 + 0.002, X0 + 0.002, [], 0), _shop("P2", Y0 + 0.003, X0 + 0.004, [], 0)]
        )
        summary = clues.run_supervision(session=s, at=api.clock.now(), rules=RULES,
                                        transactions=DATA)  # fmt: skip
    assert (summary.created, summary.refreshed) == (3, 0)


def test_runs_are_idempotent_and_the_list_filters_and_masks(api: Api) -> None:  # noqa: F811
    _setup(api)
    with api.ctx.sessions.begin() as s:
        again = clues.run_supervision(session=s, at=api.clock.now(), rules=RULES, transactions=DATA)
        assert (again.hits, again.created) == (3, 0)
        assert len(s.scalars(select(Clue)).all()) == 3
    r = api.client.get(URL, headers=api.headers("analyst"))
    assert r.status_code == 200 and r.json()["total"] == 3
    person = api.client.get(URL, params={"rule": "F"}, headers=api.headers("analyst")).json()
    (clue,) = person["items"]
    assert clue["subject_kind"] == "person" and clue["subject"] == "500*****04"
    assert clue["evidence"]["persons"] == ["500*****04"]
    r = api.client.get(URL, params={"status": "dismissed"}, headers=api.headers("analyst"))
    assert r.json()["total"] == 0
    assert (
        api.client.get(URL, params={"district": "bad"}, headers=api.headers("analyst")).status_code
        == 422
    )
    assert api.client.get(URL, headers=api.headers("someone")).status_code == 403


def test_clue_to_case_and_dismiss(api: Api) -> None:  # noqa: F811
    _setup(api)
    items = api.client.get(URL, params={"rule": "Q"}, headers=api.headers("analyst")).json()[
        "items"
    ]
    p1 = next(c for c in items if c["subject"] == "P1")
    p2 = next(c for c in items if c["subject"] == "P2")
    assert (
        api.client.post(f"{URL}/{p1['id']}/case", headers=api.headers("someone")).status_code == 403
    )
    r = api.client.post(f"{URL}/{p1['id']}/case", headers=api.headers("analyst"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "case_opened" and out["case_id"]
    with api.ctx.sessions.begin() as s:
        case = s.get(Case, out["case_id"])
        assert case is not None and case.category_code == "10902"
        assert case.title.startswith("基金监管线索 Q")
        actions = s.scalars(select(LedgerEntry.action).where(
            LedgerEntry.subject == f"medicare_clue:{p1['id']}")).all()  # fmt: skip
        assert list(actions) == ["clue_case_opened"]
    again = api.client.post(f"{URL}/{p1['id']}/case", headers=api.headers("analyst"))
    assert again.status_code == 409
    r = api.client.post(f"{URL}/{p2['id']}/dismiss", json={"reason": "处方齐全"},
                        headers=api.headers("analyst"))  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    assert api.client.post(f"{URL}/999/dismiss", json={"reason": "x"},
                           headers=api.headers("analyst")).status_code == 404  # fmt: skip
    with api.ctx.sessions.begin() as s:  # a re-run keeps the analyst's decisions
        clues.run_supervision(session=s, at=api.clock.now(), rules=RULES, transactions=DATA)
    r = api.client.get(URL, params={"status": "new"}, headers=api.headers("analyst"))
    assert r.json()["total"] == 1

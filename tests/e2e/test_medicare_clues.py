"""基金监管线索 in the browser, as a 医保分析员: the page is where the analyst lands, the filters
narrow the list, a clue's evidence shows the re-sold box's 追溯码 and the legal basis, 立案 makes
a case (linked from the clue), 排除 needs a reason and keeps it.

The clues are stored as a supervision run stores them (``clues.store_hits``) at a pharmacy placed
in the demo worker's street, so 立案 has a location inside the city.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cityops.auth.models import Role, User
from cityops.auth.service import create_user
from cityops.geo.cells import cell_of
from cityops.scenarios.medicare import clues
from cityops.scenarios.medicare.models import Fixmedins, FixmedinsType
from cityops.scenarios.medicare.supervise import Hit
from tests.e2e.conftest import Pages, Site
from tests.e2e.test_field_apps import Api, spot_in_workers_street

SHOP = "PE2E00000001"
BOX = "81234567890123456789"


def _seed(site: Site) -> None:
    spot = spot_in_workers_street(site, 0.001, 0.001)
    base: dict[str, Any] = {"institution": SHOP, "legal_basis": "条例第15条、第40条", "count": 1,
                            "amount_fen": 1200, "lines": [41]}  # fmt: skip
    hits = [
        Hit("R-TRC-01", "trace_code_reuse", "definite", "pharmacy", SHOP, "500107", "2026-11",
            {**base, "rule_name": "同一药品追溯码重复结算", "trace_codes": [BOX],
             "first_sold_line": {BOX: 40}}),
        Hit("R-FREQ-01", "frequent_purchase", "suspect", "person", "50010700000000000042",
            "500107", "2026-11", {**base, "rule_name": "频繁购药", "count": 5,
                                  "persons": ["50010700000000000042"]}),
        Hit("R-QTY-01", "over_quantity", "suspect", "pharmacy", SHOP, "500108", "2026-11",
            {**base, "rule_name": "单次超量购药", "max_cnt": 30}),
    ]  # fmt: skip
    with site.ctx.sessions.begin() as s:
        if s.execute(select(User).where(User.username == "analyst")).scalar_one_or_none() is None:
            create_user(
                session=s, username="analyst", password=site.password,
                role=Role.insurance_analyst, scope_code=None, display_name="医保分析员",
            )  # fmt: skip
        s.add(Fixmedins(
            fixmedins_code=SHOP, fixmedins_name="示例大药房", fixmedins_type=FixmedinsType.pharmacy,
            admdvs="500107", lat=spot["latitude"], lng=spot["longitude"],
            cell=cell_of(spot["latitude"], spot["longitude"]), opening_hours=[[480, 1320]] * 7,
            delivery_radius_m=0, active=True,
        ))  # fmt: skip
        s.flush()
        clues.store_hits(session=s, hits=hits, at=site.ctx.clock.now())


def _wait_rows(page: Any, rules: list[str]) -> None:
    """Until the table lists exactly these rules (in any order)."""
    want = ",".join(sorted(rules))
    page.wait_for_function(
        "want => [...document.querySelectorAll('[data-test=clue]')]"
        ".map(r => r.dataset.rule).sort().join(',') === want",
        arg=want,
    )


def test_an_analyst_filters_opens_a_case_and_dismisses(pages: Pages) -> None:
    site = pages.site
    _seed(site)
    page = pages.open("analyst", "/medicare/clues")
    page.wait_for_selector("[data-test=clues-page]")
    _wait_rows(page, ["R-FREQ-01", "R-QTY-01", "R-TRC-01"])
    assert "基金监管" in page.inner_text("nav")
    # A person's number is masked in the list.
    freq = page.inner_text("[data-test=clue][data-rule=R-FREQ-01]")
    assert "50010700000000000042" not in freq and "参保人" in freq

    page.select_option("select[name=district]", "500108")
    page.click("[data-test=clue-filters] button[type=submit]")
    _wait_rows(page, ["R-QTY-01"])
    page.select_option("select[name=district]", "")
    page.select_option("select[name=severity]", "definite")
    page.click("[data-test=clue-filters] button[type=submit]")
    _wait_rows(page, ["R-TRC-01"])

    page.click("[data-test=clue][data-rule=R-TRC-01]")
    evidence = page.inner_text("[data-test=evidence]")
    assert BOX in evidence and "条例第15条、第40条" in evidence and "#40" in evidence
    pages.shoot(page, "evidence")
    page.click("[data-test=clue-open-case]")
    page.wait_for_selector("[data-test=clue-case]")
    assert "已立案" in page.inner_text("[data-test=clue-acted]")
    assert page.inner_text("[data-test=detail-status]") == "已立案"
    case_href = page.get_attribute("[data-test=clue-case]", "href")
    case_id = int(case_href.rsplit("/", 1)[1])
    case = Api(site, "admin").call("GET", f"cases/{case_id}")
    assert case["category_code"] == "10902" and "R-TRC-01" in case["title"]

    page.select_option("select[name=severity]", "")
    page.click("[data-test=clue-filters] button[type=submit]")
    _wait_rows(page, ["R-FREQ-01", "R-QTY-01"])  # the clue made a case is not 待核查
    page.click("[data-test=clue][data-rule=R-FREQ-01]")
    page.click("[data-test=clue-dismiss]")
    assert page.is_disabled("[data-test=clue-dismiss-confirm]")  # a reason is required
    page.fill("textarea[name=reason]", "慢病患者按医嘱分次购药，已核实处方")
    page.click("[data-test=clue-dismiss-confirm]")
    page.wait_for_selector("[data-test=clue-note]")
    assert page.inner_text("[data-test=detail-status]") == "已排除"
    page.select_option("select[name=status]", "dismissed")
    page.click("[data-test=clue-filters] button[type=submit]")
    _wait_rows(page, ["R-FREQ-01"])
    pages.shoot(page, "dismissed")

    # A run goes to the background; the page asks after it and reports what it read.
    page.click("[data-test=clues-run] button[type=submit]")
    page.wait_for_function(
        "() => /读取 \\d+ 条明细/.test("
        "document.querySelector('[data-test=run-result]')?.innerText || '')",
        timeout=60_000,
    )
    assert page.is_enabled("[data-test=clues-run] button[type=submit]")

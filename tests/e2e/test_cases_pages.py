"""The desk's case pages as a district dispatcher uses them: the board (filters, live arrivals),
one case (dispatch with a chosen worker, refused and stale actions) and the KPI evaluation."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import select

from cityops.geo.models import Jurisdiction, Level
from cityops.registry.models import Department, Staff, StaffRole
from tests.e2e.conftest import Pages, Site

DISTRICT = "500107"  # the dispatcher's district (九龙坡区)
# A tiny picture as a data URL: a photo reference the page can show without the photo store.
PHOTO = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='120' height='90'>"
    "<rect width='120' height='90' fill='%23335577'/>"
    "<circle cx='60' cy='45' r='20' fill='%23ffb547'/></svg>"
)


class Desk:
    """Cases made through the API, as a hotline operator or an inspector would report them."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.http = httpx.Client(base_url=site.url, timeout=15)
        self.tokens: dict[str, str] = {}
        with site.ctx.sessions() as s:
            grids = s.execute(
                select(Jurisdiction.center_lat, Jurisdiction.center_lng, Jurisdiction.street_code)
                .where(
                    Jurisdiction.level == Level.grid,
                    Jurisdiction.district_code == DISTRICT,
                    Jurisdiction.valid_to.is_(None),
                )
                .order_by(Jurisdiction.code)
            ).all()
        # One grid per street: reports spread over the district and none is taken for a repeat
        # of another (重复上报).
        by_street: dict[str, Any] = {}
        for grid in grids[3:]:
            by_street.setdefault(grid.street_code, grid)
        self.places: Iterator[Any] = itertools.cycle(by_street.values())

    def headers(self, who: str) -> dict[str, str]:
        if who not in self.tokens:
            r = self.http.post(
                "/api/v1/auth/token", data={"username": who, "password": self.site.password}
            )
            r.raise_for_status()
            self.tokens[who] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def report(self, category: str, channel: str, title: str, who: str = "admin") -> Any:
        lat, lng, _ = next(self.places)
        body = {
            "category": category,
            "channel": channel,
            "location": {"lat": lat, "lng": lng},
            "title": title,
            "description": f"{title}，请尽快处理",
            "photos": [PHOTO],
        }
        r = self.http.post("/api/v1/cases", headers=self.headers(who), json=body)
        assert r.status_code == 201, r.text
        case = r.json()["case"]
        assert not r.json()["duplicate"]
        return case

    def act(self, case_id: int, action: str, **fields: Any) -> Any:
        r = self.http.post(
            f"/api/v1/cases/{case_id}/transitions",
            headers=self.headers("dispatcher"),
            json={"action": action, **fields},
        )
        assert r.status_code == 200, r.text
        return r.json()

    def get(self, case_id: int) -> Any:
        r = self.http.get(f"/api/v1/cases/{case_id}", headers=self.headers("dispatcher"))
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="module")
def desk(site: Site) -> Iterator[Desk]:
    d = Desk(site)
    yield d
    d.http.close()


def row(page: Any, case_id: int) -> Any:
    return page.locator(f'[data-test=case-row][data-id="{case_id}"]')


def status_of(page: Any, case_id: int) -> str:
    return str(row(page, case_id).locator("[data-test=case-status]").get_attribute("data-status"))


def test_board_lists_cases_and_a_status_filter_narrows_it(pages: Pages, desk: Desk) -> None:
    waiting = desk.report("01001", "hotline", "供水井盖缺失")  # not auto-filed: stays 已上报
    working = desk.report("06010", "inspector", "路边积存垃圾", who="inspector")  # auto-dispatched
    assert waiting["status"] == "reported" and working["status"] == "dispatched"

    page: Any = pages.open("dispatcher", "/cases")
    row(page, working["id"]).wait_for()
    assert status_of(page, waiting["id"]) == "reported"
    assert status_of(page, working["id"]) == "dispatched"
    assert "路边积存垃圾" in row(page, working["id"]).inner_text()
    total = page.inner_text("[data-test=total]")
    assert int(re.sub(r"\D", "", total)) >= 2
    pages.shoot(page, "board")

    page.click("[data-test=status-filter] [data-status=reported]")
    row(page, working["id"]).wait_for(state="detached")
    row(page, waiting["id"]).wait_for()
    statuses = page.locator("[data-test=case-row] [data-test=case-status]")
    assert statuses.count() >= 1
    assert set(statuses.evaluate_all("els => els.map(e => e.dataset.status)")) == {"reported"}
    assert "status=reported" in page.url  # the filter survives a reload
    pages.shoot(page, "board-reported")


def test_a_case_reported_while_the_board_is_open_appears_live(pages: Pages, desk: Desk) -> None:
    page: Any = pages.open("dispatcher", "/kpis")
    page.locator("[data-test=kpi-table]").wait_for()
    with page.expect_response(re.compile(r"/api/v1/stream")):  # the board's live stream is up
        page.click("a[href='/cases']")
    page.locator("[data-test=case-row]").first.wait_for()
    page.evaluate("window.__sameDocument = true")

    fresh = desk.report("01037", "hotline", "路灯不亮")
    arrived = page.locator(f'[data-test=case-row][data-id="{fresh["id"]}"][data-live="1"]')
    arrived.wait_for()
    assert page.locator("[data-test=case-row]").first.get_attribute("data-id") == str(fresh["id"])
    assert page.evaluate("window.__sameDocument === true")  # no reload happened
    pages.shoot(page, "board-live")

    desk.act(fresh["id"], "accept", expected_version=fresh["version"])
    page.locator(
        f'[data-test=case-row][data-id="{fresh["id"]}"] [data-status="accepted"]'
    ).wait_for()


def test_dispatcher_dispatches_a_filed_case_to_a_chosen_worker(
    pages: Pages, desk: Desk, site: Site
) -> None:
    case = desk.report("01002", "hotline", "污水井盖破损")
    case = desk.act(case["id"], "accept")
    case = desk.act(case["id"], "file")
    assert case["status"] == "filed"
    with site.ctx.sessions() as s:
        chosen = s.execute(
            select(Department.id, Staff.id)
            .join(Staff, Staff.department_id == Department.id)
            .where(
                Department.jurisdiction_code == case["street_code"],
                Department.active.is_(True),
                Staff.role == StaffRole.worker,
                Staff.active.is_(True),
            )
            .order_by(Department.id, Staff.id)
        ).first()
    assert chosen is not None, "the seeded street has a department with workers"
    dept_id, worker_id = chosen

    page: Any = pages.open("dispatcher", f"/cases/{case['id']}")
    page.locator("[data-test=detail-status][data-status=filed]").wait_for()
    page.locator("[data-test=photo]").first.wait_for()
    page.click("[data-test=action][data-action=dispatch]")
    page.select_option("[data-test=dispatch-department]", str(dept_id))
    page.locator(f"[data-test=dispatch-worker] option[value='{worker_id}']").wait_for(
        state="attached"
    )
    page.select_option("[data-test=dispatch-worker]", str(worker_id))
    page.fill("[data-test=form-reason]", "指定就近网格员处置")
    page.click("[data-test=form-submit]")

    page.locator("[data-test=detail-status][data-status=dispatched]").wait_for()
    page.locator("[data-test=timeline-entry][data-action=dispatch]").wait_for()
    assert desk.get(case["id"])["worker_id"] == worker_id
    assert "派遣员指定" in page.inner_text("[data-test=dispatch-reason]")
    page.locator("[data-test=deadline][data-deadline=left]").wait_for()
    pages.shoot(page, "detail-dispatched")


def test_refused_and_stale_actions_show_the_api_message(pages: Pages, desk: Desk) -> None:
    pages.console.allow(r"status of 409")  # the refusals this test provokes
    case = desk.report("06011", "inspector", "道路遗撒", who="inspector")
    assert case["status"] == "dispatched"
    page: Any = pages.open("dispatcher", f"/cases/{case['id']}")
    page.locator("[data-test=detail-status][data-status=dispatched]").wait_for()

    # Nothing pending: no approve/reject buttons offering a step the API would refuse.
    page.locator("[data-test=action][data-action=escalate]").wait_for()
    assert page.locator("[data-test=action][data-action=approve_extension]").count() == 0
    assert page.locator("[data-test=action][data-action=reject_extension]").count() == 0

    # Someone else escalates while the dispatcher is typing: 409 stale_update, the case
    # reloads, the typed reason stays, and sending again goes through.
    page.click("[data-test=action][data-action=escalate]")
    page.fill("[data-test=form-reason]", "群众反映强烈，请加快处置")
    desk.act(case["id"], "escalate", reason="市级督办")
    page.click("[data-test=form-submit]")
    page.locator("[data-test=action-error][data-code=stale_update]").wait_for()
    assert "reload" in page.inner_text("[data-test=action-error]")
    assert page.input_value("[data-test=form-reason]") == "群众反映强烈，请加快处置"
    pages.shoot(page, "detail-stale")
    page.click("[data-test=form-submit]")
    page.locator("[data-test=action-done]").wait_for()
    assert desk.get(case["id"])["escalation_level"] == 2


def test_kpi_page_shows_units_with_scores_and_ratings(pages: Pages, desk: Desk) -> None:
    desk.report("06012", "inspector", "道路不洁", who="inspector")
    page: Any = pages.open("dispatcher", "/kpis")
    page.locator("[data-test=kpi-row]").first.wait_for()
    ratings = page.locator("[data-test=kpi-rating]")
    assert ratings.count() >= 1
    assert set(ratings.all_inner_texts()) <= set("ABCDE")
    page.locator("[data-test=kpi-chart][data-drawn='1'] canvas").first.wait_for()
    pages.shoot(page, "kpis-streets")

    streets = page.locator("[data-test=kpi-row]").count()
    page.select_option("[data-test=kpi-by]", "district")
    page.locator("[data-test=kpi-row][data-key='500107']").wait_for()
    assert page.locator("[data-test=kpi-row]").count() == 1 < streets
    page.click("[data-test=kpi-period][data-period=last]")
    page.locator("[data-test=kpi-period].on[data-period=last]").wait_for()


def test_kpi_export_downloads_the_table_the_page_shows(
    pages: Pages, desk: Desk, tmp_path: Path
) -> None:
    desk.report("09009", "inspector", "占道经营", who="inspector")
    page: Any = pages.open("dispatcher", "/kpis")
    page.locator("[data-test=kpi-row]").first.wait_for()
    shown = page.locator("[data-test=kpi-row] td.name").all_inner_texts()
    with page.expect_download() as download:
        page.click("[data-test=kpi-export]")
    assert re.fullmatch(r"kpi_500107_\d{4}-\d{2}_street\.xlsx", download.value.suggested_filename)
    path = tmp_path / "kpis.xlsx"
    download.value.save_as(path)
    sheet = openpyxl.load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert "综合指标值" in rows[0]
    assert sorted(str(r[1]) for r in rows[1:]) == sorted(shown)


def test_search_asks_the_api_for_words_and_case_numbers(pages: Pages, desk: Desk) -> None:
    wanted = desk.report("06010", "inspector", "桥洞下堆放建筑垃圾", who="inspector")
    unwanted = desk.report("06010", "inspector", "路口垃圾桶满溢", who="inspector")
    page: Any = pages.open("dispatcher", "/cases")
    row(page, unwanted["id"]).wait_for()

    page.fill("[data-test=search]", "建筑垃圾")
    with page.expect_response(lambda r: "/api/v1/cases?" in r.url and "q=" in r.url):
        page.press("[data-test=search]", "Enter")
    row(page, unwanted["id"]).wait_for(state="detached")
    row(page, wanted["id"]).wait_for()

    page.fill("[data-test=search]", unwanted["case_no"])  # 案卷号
    page.press("[data-test=search]", "Enter")
    row(page, wanted["id"]).wait_for(state="detached")
    row(page, unwanted["id"]).wait_for()
    assert page.locator("[data-test=case-row]").count() == 1
    pages.shoot(page, "board-search")


def test_the_intake_queue_confirms_or_corrects_a_guessed_category(pages: Pages, desk: Desk) -> None:
    lat, lng, _ = next(desk.places)
    body = {
        "channel": "hotline",
        "location": {"lat": lat, "lng": lng},
        "description": "你好，麻烦来看一下",
    }
    r = desk.http.post("/api/v1/cases", headers=desk.headers("admin"), json=body)
    assert r.status_code == 201, r.text
    case = r.json()["case"]
    assert case["needs_review"] and case["status"] == "reported"

    page: Any = pages.open("dispatcher", "/intake")
    item = page.locator(f'[data-test=queue-item][data-id="{case["id"]}"]')
    item.wait_for()
    assert item.locator("[data-test=queue-guess]").count() == 3
    item.locator("[data-test=queue-category]").select_option("06012")
    pages.shoot(page, "intake-queue")
    item.locator("[data-test=queue-accept]").click()
    item.wait_for(state="detached")
    after = desk.get(case["id"])
    assert after["category_code"] == "06012" and after["status"] == "accepted"
    assert not after["needs_review"]

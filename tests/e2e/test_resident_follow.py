"""A resident on the phone: offered the open case before filing (是同一个问题吗？) and following it
instead, watching its real steps and messages, then confirming and rating their own case."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Pages, Site
from tests.e2e.test_field_apps import Api, choose_category, spot_in_workers_street


def steps_of(api: Api, case_id: int, *actions: str) -> None:
    for action in actions:
        api.call("POST", f"cases/{case_id}/transitions", {"action": action})


def test_a_resident_follows_the_open_case_instead_of_filing_and_sees_its_steps(
    pages: Pages, site: Site
) -> None:
    spot = spot_in_workers_street(site, 0.0031, 0.0007)
    point = {"lat": spot["latitude"], "lng": spot["longitude"]}
    inspector = Api(site, "inspector")
    body: dict[str, Any] = {
        "category": "06010",
        "channel": "inspector",
        "location": point,
        "description": "路边一堆生活垃圾",
    }
    made = inspector.call("POST", "cases", body)["case"]
    case_id = made["id"]

    page = pages.open("resident", "/resident/report", mobile=True)
    page.context.grant_permissions(["geolocation"], origin=site.url)
    page.context.set_geolocation({**spot, "latitude": spot["latitude"] + 0.0001})
    page.click("[data-test=locate-me]")
    page.wait_for_selector("[data-test=place] strong:has-text('区')")
    choose_category(page, "06", "06010")
    offer = page.wait_for_selector(f"[data-test=nearby-case][data-id='{case_id}']")
    assert "是同一个问题吗" in page.inner_text("[data-test=same-problem]")
    assert "米" in offer.inner_text()
    pages.shoot(page, "resident-same-problem")
    page.click(f"[data-test=nearby-case][data-id='{case_id}'] [data-test=same-problem-yes]")
    page.wait_for_selector("[data-test=report-duplicate]")
    assert page.inner_text("[data-test=case-no]") == made["case_no"]

    # The case moves on; the follower is told and sees each real step with its time. The demo
    # resident is shared by every browser test: earlier messages are read first.
    Api(site, "resident").call("POST", "me/notifications/read-all", {})
    admin = Api(site, "admin")
    steps_of(admin, case_id, "start", "feedback")
    page.click(".tabbar a[href='/resident/mine']")
    mine = page.wait_for_selector(f"[data-test=my-case][data-id='{case_id}']")
    assert "我关注的" in mine.inner_text() and "处置反馈" in mine.inner_text()
    assert page.inner_text("[data-test=unread-badge]") == "2"
    page.click("[data-test=notices-toggle]")
    assert "已处置完毕，等待核查" in page.inner_text("[data-test=notices]")
    pages.shoot(page, "resident-mine-followed")
    page.click(f"[data-test=my-case][data-id='{case_id}']")
    page.wait_for_selector("[data-test=real-steps] [data-action=feedback]")
    shown = page.eval_on_selector_all(
        "[data-test=real-steps] li", "els => els.map(e => e.dataset.action)"
    )
    assert shown == ["report", "accept", "file", "dispatch", "link_duplicate", "start", "feedback"]
    assert page.query_selector("[data-test=rate]") is None  # not the reporter's to rate
    assert page.query_selector("[data-test=confirm]") is None
    pages.shoot(page, "resident-followed-steps")

    # On the community board (云上监督) the case shows as followed, and can be unfollowed.
    page.click(".tabbar a[href='/resident/board']")
    page.click("[data-test=community-gps]")
    button = f"[data-test=board-case][data-id='{case_id}'] [data-test=board-follow]"
    page.wait_for_selector(f"{button}:has-text('已关注')")
    page.click(button)
    page.wait_for_selector(f"{button}:has-text('关注'):not(:has-text('已'))")
    mine = Api(site, "resident").call("GET", "me/cases")["items"]
    assert case_id not in {c["id"] for c in mine}  # other tests' reports of this resident stay
    page.click(button)
    page.wait_for_selector(f"{button}:has-text('已关注')")


def test_the_reporter_confirms_the_fix_and_rates_it_after_closing(pages: Pages, site: Site) -> None:
    spot = spot_in_workers_street(site, -0.0029, -0.0021)
    resident = Api(site, "resident")
    body = {
        "category": "06012",
        "channel": "resident",
        "location": {"lat": spot["latitude"], "lng": spot["longitude"]},
        "description": "人行道上很脏，没人扫",
    }
    case_id = resident.call("POST", "cases", body)["case"]["id"]
    admin = Api(site, "admin")
    steps_of(admin, case_id, "accept", "file", "dispatch", "start", "feedback", "verify_pass")

    page = pages.open("resident", f"/resident/cases/{case_id}", mobile=True)
    page.wait_for_selector("[data-test=real-steps] [data-action=verify_pass]")
    page.click("[data-test=confirm-send]")
    page.wait_for_selector("[data-test=real-steps] [data-action=confirm]")
    steps_of(admin, case_id, "close")
    page.reload()
    page.wait_for_selector("[data-test=real-steps] [data-action=close]")
    page.click("[data-test=star-4]")
    page.fill("[data-test=rate-comment]", "扫干净了")
    page.click("[data-test=rate-send]")
    page.wait_for_selector("[data-test=rated]")
    page.wait_for_selector("[data-test=case-status][data-status=evaluated]")
    page.wait_for_selector("[data-test=real-steps] [data-action=evaluate]")
    assert page.query_selector("[data-test=rate]") is None  # once
    assert page.query_selector("[data-test=reopen]") is not None  # within 7 days
    pages.shoot(page, "resident-rated")
    final = admin.call("GET", f"cases/{case_id}")
    assert final["status"] == "evaluated" and final["satisfaction"] == 4

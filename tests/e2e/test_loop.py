"""The whole loop in a real browser, each person on their own screen (一网统管 end to end):

a resident reports a problem with a photo on the phone → it appears on the dispatcher's open
cockpit live, without a reload → the dispatcher accepts, files and dispatches it from the case
page → the worker starts it and reports back with an after-photo → the inspector verifies it →
the dispatcher closes it → the resident sees it closed and rates it.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Pages, Site
from tests.e2e.test_field_apps import (
    Api,
    choose_category,
    loaded,
    photo,
    png,
    spot_in_workers_street,
)

# 私搭乱建: a 城管 matter handled by the street; not filed automatically, so the dispatcher's
# 受理 and 立案 are part of the loop.
CATEGORY = ("06", "06001")


def act(page: Any, action: str, status: str, reason: str | None = None) -> None:
    """One dispatcher action from the case page's buttons, then the status it leads to."""
    page.click(f"[data-test=action][data-action={action}]")
    if reason is not None:
        page.fill("[data-test=form-reason]", reason)
    page.click("[data-test=form-submit]")
    page.locator(f"[data-test=detail-status][data-status={status}]").wait_for()


def test_a_residents_report_travels_the_whole_loop(pages: Pages, site: Site) -> None:
    worker_api = Api(site, "worker")
    worker_staff = worker_api.call("GET", "auth/me")["staff_id"]
    department = Api(site, "dispatcher").call("GET", f"staff/{worker_staff}")["department_id"]

    # The dispatcher's cockpit is open and listening before anything is reported.
    cockpit = pages.open("dispatcher", "/cockpit")
    with cockpit.expect_response(lambda r: "/api/v1/stream" in r.url):
        cockpit.reload()
    cockpit.wait_for_selector("[data-test=live-feed]")

    # 1. The resident reports with a photo, from where they stand.
    phone = pages.open("resident", "/resident/report", mobile=True)
    phone.context.grant_permissions(["geolocation"], origin=site.url)
    phone.context.set_geolocation(spot_in_workers_street(site, -0.0017, 0.0024))
    phone.set_input_files("[data-test=photo-camera]", files=[photo("before.png", png(seed=1))])
    phone.wait_for_selector("[data-test=photo-thumb][data-ref^='photo:']")
    phone.click("[data-test=locate-me]")
    phone.wait_for_selector("[data-test=place] strong:has-text('区')")
    phone.fill("[data-test=description]", "楼下空地有人私搭铁皮棚，占了消防通道")
    choose_category(phone, *CATEGORY)
    phone.click("[data-test=report-submit]")
    phone.wait_for_selector("[data-test=report-done]")
    case_id = int(phone.get_attribute("[data-test=see-progress]", "href").rsplit("/", 1)[1])
    pages.shoot(phone, "1-resident-reported")

    # 2. It arrives on the cockpit by itself.
    item = f"[data-test=feed-item][data-case-id='{case_id}']"
    cockpit.wait_for_selector(item)
    pages.shoot(cockpit, "2-cockpit-live")

    # 3. The dispatcher takes it from there: 受理, 立案, 派遣 to the demo worker.
    cockpit.click(f"{item} a")
    cockpit.wait_for_url(f"**/cases/{case_id}")
    cockpit.locator("[data-test=detail-status][data-status=reported]").wait_for()
    act(cockpit, "accept", "accepted")
    act(cockpit, "file", "filed")
    cockpit.click("[data-test=action][data-action=dispatch]")
    cockpit.select_option("[data-test=dispatch-department]", str(department))
    cockpit.locator(f"[data-test=dispatch-worker] option[value='{worker_staff}']").wait_for(
        state="attached"
    )
    cockpit.select_option("[data-test=dispatch-worker]", str(worker_staff))
    cockpit.click("[data-test=form-submit]")
    cockpit.locator("[data-test=detail-status][data-status=dispatched]").wait_for()
    pages.shoot(cockpit, "3-dispatched")

    # 4. The worker finds it in the task list, starts, and reports back with an after-photo.
    worker = pages.open("worker", "/worker", mobile=True)
    worker.click(f"[data-test=task][data-id='{case_id}']")
    worker.click("[data-test=start]")
    worker.wait_for_selector("[data-test=case-head][data-status=in_progress]")
    worker.set_input_files("[data-test=after-camera]", files=[photo("after.png", png(seed=3))])
    worker.wait_for_selector("[data-test=after-thumb][data-ref^='photo:']")
    worker.fill("[data-test=feedback-note]", "铁皮棚已拆除，通道已清空")
    worker.click("[data-test=finish]")
    worker.wait_for_selector("[data-test=case-head][data-status=handled]")
    pages.shoot(worker, "4-worker-handled")

    # 5. A resident's case closes on evidence: the reporter confirms it is fixed (群众确认), and
    # the inspector compares before and after and passes it.
    phone.goto(f"{site.url}/resident/cases/{case_id}")
    phone.click("[data-test=confirm-send]")
    phone.wait_for_selector("[data-test=real-steps] [data-action=confirm]")
    inspector = pages.open("inspector", "/worker/verify", mobile=True)
    card = f"[data-test=verify-case][data-id='{case_id}']"
    inspector.wait_for_selector(card)
    assert loaded(
        inspector, f"{card} [data-test=photos-before] img"
    ) or inspector.wait_for_function(
        "s => [...document.querySelectorAll(s + ' img')].every(i => i.naturalWidth > 0)", arg=card
    )
    inspector.click(f"{card} [data-test=verify-open]")
    inspector.fill(f"{card} [data-test=verify-text]", "现场复核，已拆除")
    inspector.click(f"{card} [data-test=verify-pass]")
    inspector.wait_for_selector("[data-test=verify-done]")
    pages.shoot(inspector, "5-inspector-verified")

    # 6. The dispatcher's open case page follows live; they close it (结案).
    cockpit.locator("[data-test=detail-status][data-status=verified]").wait_for()
    act(cockpit, "close", "closed")
    pages.shoot(cockpit, "6-closed")

    # 7. The resident sees every step done and rates the work.
    phone.goto(f"{site.url}/resident/cases/{case_id}")
    phone.wait_for_selector("[data-test=real-steps] [data-action=close]")
    phone.click("[data-test=star-5]")
    phone.fill("[data-test=rate-comment]", "拆得快，点赞")
    phone.click("[data-test=rate-send]")
    phone.wait_for_selector("[data-test=case-status][data-status=evaluated]")
    pages.shoot(phone, "7-resident-rated")

    final = Api(site, "dispatcher").call("GET", f"cases/{case_id}")
    assert final["status"] == "evaluated" and final["satisfaction"] == 5
    assert final["channel"] == "resident" and final["worker_id"] == worker_staff
    actions = [entry["action"] for entry in final["history"]]
    for step in ("report", "accept", "file", "dispatch", "start", "feedback", "verify_pass"):
        assert step in actions, step
    assert actions[-4:] == ["confirm", "verify_pass", "close", "evaluate"]

"""The phone apps: a resident reports a problem with a photo (随手拍), a worker handles it and an
inspector verifies it; bad input is refused in the page without losing what was typed; the
resident app installs as a PWA.

The dispatcher's part (受理, 立案, 派遣 to the demo worker) goes through the API: the cockpit's
own tests cover it.
"""

from __future__ import annotations

import json
import struct
import urllib.parse
import urllib.request
import zlib
from typing import Any

from tests.e2e.conftest import Pages, Site

DRAFT = "cityops.resident.draft"


def png(width: int = 320, height: int = 240, seed: int = 0) -> bytes:
    """A real, decodable PNG (a colour gradient), so the page can preview it."""
    rows = b"".join(
        b"\x00"
        + b"".join(
            bytes(((x * 255 // width + 70 * seed) % 256, y * 255 // height, (90 + 60 * seed) % 256))
            for x in range(width)
        )
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def photo(name: str, data: bytes, mime: str = "image/png") -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": data}


class Api:
    """The API as one demo account (for the steps the desk apps take)."""

    def __init__(self, site: Site, username: str) -> None:
        self.site = site
        form = urllib.parse.urlencode({"username": username, "password": site.password})
        with urllib.request.urlopen(f"{site.url}/api/v1/auth/token", data=form.encode()) as r:
            self.token = json.load(r)["access_token"]

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.site.url}/api/v1/{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as r:
            return json.load(r)


def spot_in_workers_street(site: Site, d_lat: float, d_lng: float) -> dict[str, float]:
    """A point near the centre of the demo worker's street (the inspector's too)."""
    worker = Api(site, "worker")
    street = worker.call("GET", "auth/me")["scope_code"]
    lng, lat = worker.call("GET", f"jurisdictions/{street}")["properties"]["center"]
    spot = {"latitude": round(lat + d_lat, 6), "longitude": round(lng + d_lng, 6)}
    where = worker.call(
        "GET", f"jurisdictions/locate?lat={spot['latitude']}&lng={spot['longitude']}"
    )
    assert where["street"]["code"] == street
    return spot


def choose_category(page: Any, major: str, code: str) -> None:
    page.click("[data-test=category-open]")
    page.click(f"[data-test=major-{major}]")
    page.click(f"[data-test=category-{code}]")
    page.wait_for_selector(f"[data-test=category-chosen][data-code='{code}']")


def dispatch_to_demo_worker(site: Site, case_id: int) -> None:
    """受理, 立案 and 派遣 to the demo worker, as the district dispatcher does in the cockpit."""
    dispatcher = Api(site, "dispatcher")
    staff_id = Api(site, "worker").call("GET", "auth/me")["staff_id"]
    department = dispatcher.call("GET", f"staff/{staff_id}")["department_id"]
    steps = f"cases/{case_id}/transitions"
    dispatcher.call("POST", steps, {"action": "accept"})
    dispatcher.call("POST", steps, {"action": "file"})
    dispatcher.call(
        "POST", steps, {"action": "dispatch", "department_id": department, "worker_id": staff_id}
    )


def loaded(page: Any, selector: str) -> bool:
    """Every <img> under ``selector`` is there and decoded (not a broken image)."""
    return bool(
        page.eval_on_selector_all(
            selector, "imgs => imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)"
        )
    )


def test_a_photo_report_goes_from_resident_to_worker_to_inspector_and_back(
    pages: Pages, site: Site
) -> None:
    spot = spot_in_workers_street(site, 0.0021, -0.0013)
    page = pages.open("resident", "/resident/report", mobile=True)
    page.context.grant_permissions(["geolocation"], origin=site.url)
    page.context.set_geolocation(spot)

    page.set_input_files("[data-test=photo-camera]", files=[photo("before.png", png())])
    page.wait_for_selector("[data-test=photo-thumb][data-ref^='photo:']")
    page.click("[data-test=locate-me]")
    place = page.wait_for_selector("[data-test=place] strong:has-text('区')")
    assert "九龙坡区" in place.inner_text()
    page.fill("[data-test=description]", "小区门口供水井盖缺失，联系电话13812345678")
    # The classifier's guesses appear as chips while typing (POST /classify).
    page.wait_for_selector("[data-test=suggestion][data-code='01001']", timeout=30_000)
    choose_category(page, "01", "01001")
    pages.shoot(page, "resident-report-filled")
    page.click("[data-test=report-submit]")
    done = page.wait_for_selector("[data-test=report-done]")
    case_no = page.inner_text("[data-test=case-no]")
    assert case_no.startswith("500107-")
    assert "已有人反映" not in done.inner_text()  # a new case, not linked to another
    case_id = int(page.get_attribute("[data-test=see-progress]", "href").rsplit("/", 1)[1])
    assert page.evaluate(f"sessionStorage.getItem('{DRAFT}')") is None
    pages.shoot(page, "resident-report-done")

    page.click(".tabbar a[href='/resident/mine']")
    mine = page.wait_for_selector(f"[data-test=my-case][data-case-no='{case_no}']")
    assert "已上报" in mine.inner_text()
    pages.shoot(page, "resident-mine")

    # The worker's task list is open when the case is dispatched: it appears without a reload.
    worker = pages.open("worker", "/worker", mobile=True)
    with worker.expect_response(lambda r: "/api/v1/stream" in r.url):
        worker.reload()
    worker.wait_for_selector("[data-test=task-map]")
    dispatch_to_demo_worker(site, case_id)
    task = worker.wait_for_selector(f"[data-test=task][data-id='{case_id}']")
    assert "剩余" in task.inner_text()  # the deadline countdown
    worker.wait_for_selector("[data-test=new-task]")
    pages.shoot(worker, "worker-tasks")
    task.click()
    worker.click("[data-test=start]")
    worker.wait_for_selector("[data-test=case-head][data-status=in_progress]")
    worker.click("[data-test=extension-open]")
    worker.select_option("[data-test=extension-hours]", "24")
    worker.fill("[data-test=extension-reason]", "需要供水公司配合更换井座")
    worker.click("[data-test=extension-send]")
    assert "24" in worker.wait_for_selector("[data-test=extension-pending]").inner_text()
    worker.set_input_files("[data-test=after-camera]", files=[photo("after.png", png(seed=2))])
    worker.wait_for_selector("[data-test=after-thumb][data-ref^='photo:']")
    worker.fill("[data-test=feedback-note]", "已补装井盖，现场已清理")
    pages.shoot(worker, "worker-feedback")
    worker.click("[data-test=finish]")
    worker.wait_for_selector("[data-test=case-head][data-status=handled]")
    assert loaded(worker, "[data-test=photos-after] img")

    inspector = pages.open("inspector", "/worker/verify", mobile=True)
    card = f"[data-test=verify-case][data-id='{case_id}']"
    inspector.wait_for_selector(card)
    decoded = "s => [...document.querySelectorAll(s + ' img')].every(i => i.naturalWidth > 0)"
    inspector.wait_for_function(decoded, arg=card)
    assert loaded(inspector, f"{card} [data-test=photos-before] img")
    assert loaded(inspector, f"{card} [data-test=photos-after] img")
    pages.shoot(inspector, "inspector-verify")
    inspector.click(f"{card} [data-test=verify-open]")
    inspector.fill(f"{card} [data-test=verify-text]", "现场核实，井盖已补齐")
    inspector.click(f"{card} [data-test=verify-pass]")
    inspector.wait_for_selector("[data-test=verify-done]")
    inspector.wait_for_selector(card, state="detached")
    assert Api(site, "dispatcher").call("GET", f"cases/{case_id}")["status"] == "verified"

    # A resident's case closes on evidence: the reporter confirms it is fixed (群众确认); closed by
    # the district, the resident sees every step with its photos and rates the work.
    page.goto(f"{site.url}/resident/cases/{case_id}")
    page.click("[data-test=confirm-send]")
    page.wait_for_selector("[data-test=real-steps] [data-action=confirm]")
    Api(site, "dispatcher").call("POST", f"cases/{case_id}/transitions", {"action": "close"})
    page.reload()
    page.wait_for_selector("[data-test=real-steps] [data-action=close]")
    assert loaded(page, "[data-test=real-steps] [data-action=report] img")
    assert loaded(page, "[data-test=real-steps] [data-action=feedback] img")
    page.click("[data-test=star-5]")
    page.fill("[data-test=rate-comment]", "处理很及时")
    page.click("[data-test=rate-send]")
    page.wait_for_selector("[data-test=rated]")
    page.wait_for_selector("[data-test=case-status][data-status=evaluated]")
    pages.shoot(page, "resident-progress")

    # 云上监督: the community found by GPS shows the case, the phone number masked.
    page.click(".tabbar a[href='/resident/board']")
    page.click("[data-test=community-gps]")
    board = page.wait_for_selector(f"[data-test=board-case][data-id='{case_id}']")
    assert "138****5678" in board.inner_text()
    assert "13812345678" not in page.inner_text("main")
    page.reload()  # the community is remembered
    page.wait_for_selector(f"[data-test=board-case][data-id='{case_id}']")
    pages.shoot(page, "resident-board")


def form_state(page: Any) -> dict[str, Any]:
    return {
        "description": page.input_value("[data-test=description]"),
        "category": page.get_attribute("[data-test=category-chosen]", "data-code"),
        "photos": page.eval_on_selector_all(
            "[data-test=photo-thumb]", "els => els.map(e => e.dataset.ref)"
        ),
    }


def test_bad_input_is_refused_in_the_page_and_nothing_typed_is_lost(
    pages: Pages, site: Site
) -> None:
    pages.console.allow(r"status of (401|422)")
    page = pages.open("resident", "/resident/report", mobile=True)
    page.set_input_files("[data-test=photo-gallery]", files=[photo("good.png", png(seed=3))])
    page.wait_for_selector("[data-test=photo-thumb]")
    page.fill("[data-test=description]", "雨水井盖松动，车辆经过响声很大")
    choose_category(page, "01", "01003")
    typed = form_state(page)

    # Not a picture (whatever its name says), then too big: refused before any upload.
    page.set_input_files(
        "[data-test=photo-camera]", files=[photo("scan.jpg", b"hello, not a photo", "image/jpeg")]
    )
    assert "不是图片" in page.wait_for_selector("[data-test=photo-error]").inner_text()
    assert form_state(page) == typed
    big = b"\x89PNG\r\n\x1a\n" + bytes(8 * 1024 * 1024)
    page.set_input_files("[data-test=photo-camera]", files=[photo("huge.png", big)])
    page.wait_for_selector("[data-test=photo-error]:has-text('超过 8 MB')")
    assert form_state(page) == typed
    pages.shoot(page, "resident-bad-photo")

    # A place outside the city: the API's message, in the page and again on submit.
    page.context.grant_permissions(["geolocation"], origin=site.url)
    page.context.set_geolocation({"latitude": 39.9042, "longitude": 116.4074})
    page.click("[data-test=locate-me]")
    assert "outside the city" in page.wait_for_selector("[data-test=place-error]").inner_text()
    page.click("[data-test=report-submit]")
    error = page.wait_for_selector("[data-test=report-error]").inner_text()
    assert "不在本市范围内" in error and "outside the city" in error
    assert form_state(page) == typed
    pages.shoot(page, "resident-outside-city")

    # A pin on the map instead, then the login runs out on submit: back to the login page,
    # and after logging in again the report is all there, and goes in.
    box = page.locator("[data-test=report-map]").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.55)
    page.wait_for_selector("[data-test=place] strong:has-text('街道')")
    expired = {"error": {"code": "token_expired", "message": "token expired"}}
    page.route(
        "**/api/v1/cases",
        lambda route: (
            route.fulfill(status=401, json=expired)
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    page.click("[data-test=report-submit]")
    page.wait_for_selector("[data-test=login-form]")
    assert "登录已过期" in page.inner_text("[data-test=login-error]")
    page.unroute("**/api/v1/cases")
    page.fill("input[name=username]", "resident")
    page.fill("input[name=password]", site.password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-test=draft-restored]")
    assert page.url.endswith("/resident/report")
    assert form_state(page) == typed
    page.wait_for_selector("[data-test=place] strong:has-text('街道')")
    page.click("[data-test=report-submit]")
    page.wait_for_selector("[data-test=report-done]")
    assert page.evaluate(f"sessionStorage.getItem('{DRAFT}')") is None


def test_the_resident_app_installs_as_a_pwa(pages: Pages, site: Site) -> None:
    page = pages.open("resident", "/resident", mobile=True)
    page.wait_for_url("**/resident/report")
    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"] == f"{site.url}/manifest.webmanifest"
    assert manifest["errors"] == []
    assert manifest["manifest"]["startUrl"] == f"{site.url}/resident"
    assert manifest["manifest"]["display"] == "kStandalone"
    worker = page.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)")
    assert worker == f"{site.url}/sw.js"

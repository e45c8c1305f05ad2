"""智慧医保 in the browser: a resident finds the cheapest nearby pharmacy for a medicine, pays
partly from a relative's account (家庭共济) and follows the order to delivered; the bureau's
analyst sees price outliers and a DRG grouping with its trace."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from cityops.demo_medicare import seed_medicare
from tests.e2e.conftest import PASSWORD, Pages, Site


@pytest.fixture(scope="module")
def market(site: Site) -> Site:
    """The demo market and the demo resident's persons, as ``make demo`` loads them."""
    seed_medicare(ctx=site.ctx, password=PASSWORD, at=datetime.now(UTC))
    return site


def _admin(site: Site) -> dict[str, str]:
    r = httpx.post(
        f"{site.url}/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_resident_buys_with_a_relatives_account_and_sees_it_delivered(
    pages: Pages, market: Site
) -> None:
    page = pages.open("resident", "/medicare", mobile=True)
    page.fill("[data-test=drug-q]", "blf")  # pinyin initials of 布洛芬
    page.click("[data-test=drug-search]")
    page.click("[data-test=drug]:has-text('布洛芬缓释胶囊')")
    page.wait_for_selector("[data-test=offer]")
    prices = [
        float(t.replace("¥", ""))
        for t in page.locator("[data-test=offer] .price").all_inner_texts()
    ]
    assert prices  # sorted by unit price: the first is the cheapest per capsule
    page.click("[data-test=offer] >> nth=0")
    assert "李*英" in page.inner_text("[data-test=relative]")  # the relative's name, masked
    packs = int(25 // prices[0]) + 1  # more than the ¥20 in her own account
    page.fill("[data-test=order-form] input[type=number]", str(packs))
    page.click("[data-test=pay]")
    page.wait_for_selector("[data-test=paid]")
    own = float(page.inner_text("[data-test=acct-pay]").replace("¥", ""))
    mulaid = float(page.inner_text("[data-test=mulaid-pay]").replace("¥", ""))
    assert own == 20.0 and mulaid == pytest.approx(packs * prices[0] - 20.0)  # own ¥20 first
    order_no = page.inner_text("[data-test=paid] h3").split("·")[-1].strip()
    pages.shoot(page, "resident-paid")
    admin = _admin(market)
    for status in ("delivering", "delivered"):  # the pharmacy's side
        r = httpx.post(
            f"{market.url}/api/v1/medicare/orders/{order_no}/status",
            json={"status": status}, headers=admin,
        )  # fmt: skip
        assert r.status_code == 200, r.text
    page.click("[data-test=track]")
    row = page.locator(f"[data-test=order][data-order-no='{order_no}']")
    assert row.locator("[data-test=order-status]").inner_text() == "已送达"
    pages.shoot(page, "resident-delivered")


def test_analyst_sees_price_outliers_and_a_drg_trace(pages: Pages, market: Site) -> None:
    page = pages.open("analyst", "/medicare/prices")
    page.wait_for_selector("[data-test=outlier-row]")
    assert "共" in page.inner_text("[data-test=outlier-total]")
    first = page.locator("[data-test=outlier-row] >> nth=0").inner_text()
    assert "%" in first
    page.wait_for_selector("[data-test=price-map]:not([data-points='0']) canvas")
    assert page.locator("[data-test=rank-row]").count() > 0
    pages.shoot(page, "analyst-prices")
    page.goto(market.url + "/medicare/drg")
    page.click("[data-test=drg-group]")
    page.wait_for_selector("[data-test=trace-step]")
    assert page.inner_text("[data-test=drg-code]").startswith("GD1")
    steps = page.locator("[data-test=trace-step]").all_inner_texts()
    assert any("K35.800" in s for s in steps)
    page.click("[data-test=drg-batch]")
    page.wait_for_selector("[data-test=cmi-row]")
    pages.shoot(page, "analyst-drg")


def test_resident_binds_a_relative_and_cancels(pages: Pages, market: Site) -> None:
    """家庭共济 on 我的订单: the relative paying for me is shown masked; binding her to my own
    account checks 姓名 + 个人编号; the new binding can be cancelled."""
    pages.console.allow(r"status of 422")  # the wrong name this test provokes
    page = pages.open("resident", "/medicare/orders", mobile=True)
    page.wait_for_selector("[data-test=binding]")
    assert "李*英" in page.inner_text("[data-test=mulaid]")
    page.fill("[data-test=bind-no]", "DEMO500103000002")
    page.fill("[data-test=bind-name]", "李秀")
    page.select_option("[data-test=bind-relation]", "parent")
    page.click("[data-test=bind]")
    page.wait_for_selector("[data-test=bind-note]:has-text('姓名与个人编号不符')")
    page.fill("[data-test=bind-name]", "李秀英")
    page.click("[data-test=bind]")
    page.wait_for_selector("[data-test=unbind]")
    assert page.locator("[data-test=binding]").count() == 2
    pages.shoot(page, "resident-mulaid")
    page.click("[data-test=unbind]")
    page.wait_for_selector("[data-test=unbind]", state="detached")
    assert page.locator("[data-test=binding]").count() == 1

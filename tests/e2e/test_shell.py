"""The shell: login per role, the language switch, a wrong password, an expired session."""

from __future__ import annotations

from tests.e2e.conftest import Pages, Site


def test_wrong_password_says_so_and_keeps_the_username(pages: Pages, site: Site) -> None:
    pages.console.allow(r"401")
    page = pages.open(None, "/login")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    error = page.wait_for_selector("[data-test=login-error]")
    assert "登录失败" in error.inner_text()
    assert page.input_value("input[name=username]") == "dispatcher"


def test_every_demo_account_logs_in_and_sees_its_role_in_chinese(pages: Pages) -> None:
    roles = {
        "admin": "市级管理员",
        "dispatcher": "区县派遣员",
        "worker": "处置人员",
        "inspector": "监督员",
        "resident": "居民",
    }
    for username, role in roles.items():
        page = pages.open(username, mobile=username in ("worker", "inspector", "resident"))
        assert role in page.inner_text("[data-test=who]")
        pages.shoot(page, username)


def test_language_switch_turns_the_shell_english_and_stays(pages: Pages) -> None:
    page = pages.open("admin", "/system")
    page.select_option("[data-test=locale]", "en")
    page.wait_for_selector("text=City admin")
    page.reload()
    page.wait_for_selector("[data-test=who]")
    assert "City admin" in page.inner_text("[data-test=who]")
    page.select_option("[data-test=locale]", "zh-CN")
    page.wait_for_selector("text=市级管理员")


def test_system_page_shows_the_ledger_intact(pages: Pages) -> None:
    page = pages.open("admin", "/system")
    ledger = page.wait_for_selector("[data-test=ledger] .tag")
    assert "账本完整" in ledger.inner_text()


def test_an_expired_session_returns_to_login_with_a_message(pages: Pages) -> None:
    pages.console.allow(r"401")
    page = pages.open("admin", "/system")
    page.evaluate(
        "() => { const s = JSON.parse(localStorage.getItem('cityops.session'));"
        " s.token = 'expired.' + s.token;"
        " localStorage.setItem('cityops.session', JSON.stringify(s)) }"
    )
    page.reload()
    page.wait_for_selector("[data-test=login-form]")
    assert "登录已过期" in page.inner_text("[data-test=login-error]")


def test_a_page_the_role_may_not_open_says_so_and_lands_home(pages: Pages) -> None:
    page = pages.open("resident", "/cockpit", mobile=True)
    banner = page.wait_for_selector(".banner.warn")
    assert "没有权限" in banner.inner_text() and "/cockpit" in banner.inner_text()
    page.wait_for_url("**/resident/**")
    assert page.locator("[data-test=cockpit]").count() == 0

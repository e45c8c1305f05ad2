"""Browser tests: the built web app, served by a real API over a seeded synthetic Chongqing,
driven by Playwright in Debian's Chromium (no browser download).

One server per test session (seeding takes about 10 s); each test gets a fresh browser context.
Every page is screenshotted into ``test-artifacts/e2e/`` (or ``$CITYOPS_E2E_ARTIFACTS``), and a
test fails on any console error or uncaught page error.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import time as clock_time
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import update

from cityops.api.app import create_app
from cityops.api.context import AppContext
from cityops.registry.models import Staff
from cityops.settings import Settings
from cityops.sim.city import seed_city

playwright_sync = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web" / "dist"
CHROMIUM = os.environ.get("CITYOPS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("CITYOPS_E2E_ARTIFACTS", ROOT / "test-artifacts" / "e2e"))
PASSWORD = "e2e-demo-pass-2026"
# As the machine notes say: without the background-networking flags Chromium keeps dialling
# hosts this machine cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _everyone_on_call(ctx: AppContext) -> None:
    """九龙坡's staff work round the clock here, so dispatch finds the demo worker at any hour.

    The server and the browser share the real clock (deadline countdowns are computed in the
    page), so shifts are widened instead of moving the server's time.
    """
    with ctx.sessions.begin() as session:
        session.execute(
            update(Staff)
            .where(Staff.district_code == "500107")
            .values(shift_start=clock_time(8, 0), shift_end=clock_time(8, 0), works_weekends=True)
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    """The running app: its URL, the demo password and the context behind it."""

    url: str
    ctx: AppContext
    password: str = PASSWORD


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not (DIST / "index.html").is_file():
        pytest.fail("the web app is not built: run `make web` (make test does)")
    from cityops.runtime import build_context

    db = tmp_path_factory.mktemp("e2e") / "e2e.db"
    settings = Settings(
        database_url=f"sqlite:///{db}",
        demo_password=PASSWORD,
        secret_key="e2e-secret-key-0123456789abcdef-xyz",
        web_dist=DIST,
        photo_dir=db.parent / "photos",
        # Every browser test reports as the one demo resident from one IP; the limits themselves
        # are tested in tests/api/test_limits.py.
        rate_reports_burst=10_000,
        rate_ip_reports_burst=10_000,
        rate_photos_burst=10_000,
    )
    ctx = build_context(settings)
    seed_city(ctx=ctx, password=PASSWORD)
    _everyone_on_call(ctx)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True, name="e2e-api")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the e2e API server did not start")
        time.sleep(0.05)
    yield Site(url=f"http://127.0.0.1:{port}", ctx=ctx)
    server.should_exit = True
    thread.join(timeout=10)


# Package scope: Playwright's sync API keeps an event loop running in the main thread while it
# is open, and the rest of the suite calls asyncio.run(); it closes after the browser tests.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser` (make test does)")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Console:
    """What the page said: console errors and uncaught exceptions fail the test."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """An error the test provokes on purpose (a refused upload answers 413, say)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


class Pages:
    """Opens pages as a given account; screenshots every page it opened at the end."""

    def __init__(self, browser: object, site: Site, name: str) -> None:
        self.browser = browser
        self.site = site
        self.name = re.sub(r"[^\w.-]+", "_", name)
        self.console = Console()
        self.opened: list[tuple[str, object, object]] = []

    def open(self, username: str | None, path: str = "/", *, mobile: bool = False) -> object:
        viewport = {"width": 412, "height": 860} if mobile else {"width": 1600, "height": 900}
        context = self.browser.new_context(  # type: ignore[attr-defined]
            viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", is_mobile=mobile
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        label = f"{username or 'anon'}"
        page.on(
            "console",
            lambda m: (
                self.console.errors.append(f"{label} console: {m.text}")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda e: self.console.errors.append(f"{label} pageerror: {e}"))
        if username:
            login(page, self.site, username)
        if path != "/" or not username:
            page.goto(self.site.url + path)
        self.opened.append((label, context, page))
        return page

    def shoot(self, page: object, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        out = ARTIFACTS / f"{self.name}-{label}.png"
        page.screenshot(path=str(out), full_page=True)  # type: ignore[attr-defined]
        return out

    def close(self) -> None:
        for label, context, page in self.opened:
            try:
                self.shoot(page, f"{label}-last")
            finally:
                context.close()  # type: ignore[attr-defined]


def login(page: object, site: Site, username: str) -> None:
    """Log in through the login form, as a person would, and wait for the landing page."""
    p = page  # playwright Page
    p.goto(site.url + "/login")  # type: ignore[attr-defined]
    p.fill("input[name=username]", username)  # type: ignore[attr-defined]
    p.fill("input[name=password]", site.password)  # type: ignore[attr-defined]
    p.click("button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_selector("[data-test=who]")  # type: ignore[attr-defined]


@pytest.fixture
def pages(browser: object, site: Site, request: pytest.FixtureRequest) -> Iterator[Pages]:
    opened = Pages(browser, site, request.node.name)
    yield opened
    opened.close()
    unexpected = opened.console.unexpected()
    assert not unexpected, "console errors:\n" + "\n".join(unexpected)

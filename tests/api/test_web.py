"""The browser app is served at "/": built files, index.html for app routes, API paths untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from cityops.api.app import create_app
from cityops.api.context import AppContext
from cityops.bus.memory import MemoryBus
from cityops.clock import SystemClock
from cityops.settings import Settings
from cityops.store.engine import make_session_factory


def _client(tmp_path: Path, dist: Path) -> TestClient:
    engine = create_engine(f"sqlite:///{tmp_path / 'web.db'}")
    ctx = AppContext(
        settings=Settings(secret_key="k" * 32, web_dist=dist),
        engine=engine,
        sessions=make_session_factory(engine),
        bus=MemoryBus(),
        clock=SystemClock(),
    )
    return TestClient(create_app(ctx), raise_server_exceptions=False)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><div id=app></div>", encoding="utf-8")
    (root / "assets" / "index-abc123.js").write_text("console.log(1)", encoding="utf-8")
    (root / "manifest.webmanifest").write_text("{}", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not for the web", encoding="utf-8")
    return root


def test_app_routes_get_index_html_and_assets_are_cached_forever(
    tmp_path: Path, dist: Path
) -> None:
    client = _client(tmp_path, dist)
    for path in ("/", "/cockpit", "/cases/42", "/resident/report"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "<div id=app>" in r.text
        assert r.headers["cache-control"] == "no-cache"
    asset = client.get("/assets/index-abc123.js")
    assert asset.status_code == 200 and asset.text == "console.log(1)"
    assert "immutable" in asset.headers["cache-control"]
    assert client.get("/manifest.webmanifest").json() == {}


def test_api_paths_and_missing_files_are_json_404s_not_the_app(tmp_path: Path, dist: Path) -> None:
    client = _client(tmp_path, dist)
    for path in ("/api/v1/no-such-thing", "/assets/missing.js"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "not_found"
    r = client.get("/open311/v2/no-such-thing.json")  # the Open311 door's own error list
    assert r.status_code == 404 and r.json()[0]["code"] == 404


def test_files_outside_the_build_are_never_served(tmp_path: Path, dist: Path) -> None:
    client = _client(tmp_path, dist)
    for path in ("/..%2Fsecret.txt", "/assets/..%2F..%2Fsecret.txt", "/%2E%2E/secret.txt"):
        r = client.get(path)
        assert "not for the web" not in r.text, path


def test_an_unbuilt_app_says_how_to_build_it(tmp_path: Path) -> None:
    client = _client(tmp_path, tmp_path / "nowhere")
    r = client.get("/cockpit")
    assert r.status_code == 200
    assert "make web" in r.text
    assert client.get("/docs").status_code == 200

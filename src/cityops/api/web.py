"""The browser app at "/": the files Vite built into web/dist, and index.html for app routes.

The app's own routes (/cockpit, /resident, …) are client-side, so any GET that is not an API,
SensorThings or docs path and not a built file gets index.html (history-mode routing).
Hashed assets are cached for a year; index.html never, so a new build shows at once.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from cityops.errors import NotFound

# Paths the app never answers with index.html: an unknown API path must stay a JSON 404.
RESERVED = ("api/", "sta/", "open311/", "docs", "redoc", "openapi.json")
CHECKOUT_DIST = Path(__file__).resolve().parents[3] / "web" / "dist"

NOT_BUILT = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>cityops</title>
<body style="font-family:sans-serif;padding:2em"><h1>城市运行和治理智能中枢 cityops</h1>
<p>浏览器应用尚未构建 — the web app is not built.
Run <code>make web</code> (or <code>make demo</code>), or set <code>CITYOPS_WEB_DIST</code>.
The API is at <a href="/docs">/docs</a>.</p></body></html>"""


def _inside(root: Path, rel: str) -> Path | None:
    """The file ``rel`` under ``root``, or None if it is missing or escapes the root."""
    candidate = (root / rel).resolve()
    if candidate.is_file() and candidate.is_relative_to(root):
        return candidate
    return None


def install(app: FastAPI, dist: Path | None) -> None:
    """Mount the built app last, so every API route wins over the catch-all."""
    root = (dist or CHECKOUT_DIST).resolve()

    @app.get("/{path:path}", include_in_schema=False)
    def web_app(path: str, request: Request) -> Response:
        del request
        if path.startswith(RESERVED):
            raise NotFound(f"no such path: /{path}", code="not_found")
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=200)
        found = _inside(root, path) if path else None
        if found is not None:
            immutable = path.startswith("assets/")
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            return FileResponse(found, headers={"Cache-Control": cache})
        if "." in path.rsplit("/", 1)[-1]:  # a missing file, not an app route
            raise NotFound(f"no such file: /{path}", code="not_found")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

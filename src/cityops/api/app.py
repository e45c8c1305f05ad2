"""The FastAPI application: one composition point for every domain's router."""

from __future__ import annotations

from importlib import import_module

from fastapi import APIRouter, FastAPI

from cityops import __version__
from cityops.api import errors, web
from cityops.api.context import AppContext

# Domains (and scenarios, ``scenarios.<name>``) whose ``api.router`` is mounted under /api/v1.
DOMAINS = [
    "auth", "geo", "registry", "cases", "ledger", "rules", "sensing", "photos", "cockpit",
    "scenarios.community", "scenarios.river", "scenarios.medicare",
]  # fmt: skip
EXTRA = [
    "cityops.api.stream",
    "cityops.cases.wechat_api",
    "cityops.cases.classify_api",
    "cityops.scenarios.medicare.pharmacy_api",
    "cityops.scenarios.medicare.supervision_api",
    "cityops.scenarios.medicare.price_api",
    "cityops.scenarios.medicare.me_api",
    "cityops.scenarios.medicare.credit_api",
]
# Mounted before the domains: ``/cases/nearby`` must come before ``/cases/{case_id}``.
EARLY = ["cityops.cases.resident_api"]


def create_app(ctx: AppContext) -> FastAPI:
    app = FastAPI(title="cityops", version=__version__, description="城市运行和治理智能中枢 API")
    app.state.ctx = ctx
    errors.install(app)
    v1 = APIRouter(prefix="/api/v1")

    @v1.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__, "database": ctx.engine.dialect.name}

    for path in EARLY:
        v1.include_router(import_module(path).router)
    for name in DOMAINS:
        module = import_module(f"cityops.{name}.api")
        v1.include_router(module.router)
    for path in EXTRA:
        v1.include_router(import_module(path).router)
    app.include_router(v1)
    # The OGC SensorThings API 1.1 door keeps its own root and error shape (see docs/api.md).
    app.include_router(import_module("cityops.sensing.sta.api").router)
    # Open311 GeoReport v2 likewise (XML and JSON, the spec's error list).
    app.include_router(import_module("cityops.open311.api").router)
    web.install(app, ctx.settings.web_dist)  # last: the browser app's catch-all
    return app

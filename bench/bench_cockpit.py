"""The cockpit's read paths on the loaded history (``BENCH_CASES``, default 4,000,000).

``GET /cockpit/summary`` for the city, a focus district and one of its streets (tiles, 30 days
per day and category, the month's KPI ranking), and ``GET /map/points`` for a focus district's
open cases and 部件. Each call runs the route's service code in a fresh session, scope lookup
included. Targets (ours, not the issue's): summary p95 < 300 ms, points p95 < 500 ms. The
slowest call's plans go into ``bench/results/bench_cockpit.json``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bench.bench_queries import best_of, focus_streets, measure_backends
from bench.common import (
    FOCUS_DISTRICTS,
    SEED,
    UNTIL,
    console,
    prepared,
)
from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases.categories import load_catalogue
from cityops.cockpit import points, service

RUNS = 30
TZ = ZoneInfo("Asia/Shanghai")
ADMIN = Principal(0, "bench", Role.city_admin, None)
TARGET_MS = {"summary": 300.0, "points": 500.0}
# The history ends at UNTIL's midnight: "now" is the last second of the day before, so
# "today" has a full day of cases.
NOW = datetime(UNTIL.year, UNTIL.month, UNTIL.day, tzinfo=TZ) - timedelta(seconds=1)


def _summary(code: str | None) -> Callable[[Session], Any]:
    catalogue = load_catalogue()

    def name_of(category: str) -> str:
        return catalogue.get(category).name if category in catalogue else category

    def call(session: Session) -> int:
        scope = service.resolve_scope(session=session, user=ADMIN, code=code)
        out = service.summary(session=session, scope=scope, now=NOW, tz=TZ, category_name=name_of)
        return out.tiles.open

    return call


def _points(layer: points.Layer, district: str) -> Callable[[Session], Any]:
    def call(session: Session) -> int:
        body = points.points(
            session=session, user=ADMIN, layer=layer, area=points.Area(prefix=district),
            limit=points.DEFAULT_LIMIT, now=NOW,
        )  # fmt: skip
        return len(body)

    return call


def run_backend(name: str, url: str, cases: int) -> dict[str, Any]:
    engine = prepared(name, url, cases)
    rng = random.Random(SEED)
    with Session(engine) as session:
        streets = focus_streets(session)
        sizes = {}
        for layer in (points.Layer.cases, points.Layer.components):
            body = points.points(
                session=session, user=ADMIN, layer=layer,
                area=points.Area(prefix=FOCUS_DISTRICTS[0]), limit=points.DEFAULT_LIMIT, now=NOW,
            )  # fmt: skip
            sizes[layer.value] = {"points": json.loads(body)["count"], "bytes": len(body)}
    console.print(f"[bold]{name}[/]: {len(streets)} focus streets; {FOCUS_DISTRICTS[0]}: {sizes}")
    results: dict[str, Any] = {"cases": cases, "points_first_district": sizes}
    plans: dict[str, Any] = {}
    suites: dict[str, list[Callable[[Session], Any]]] = {
        "summary_city": [_summary(None) for _ in range(RUNS)],
        "summary_district": [_summary(rng.choice(FOCUS_DISTRICTS)) for _ in range(RUNS)],
        "summary_street": [_summary(rng.choice(streets)) for _ in range(RUNS)],
        "points_cases_district": [
            _points(points.Layer.cases, rng.choice(FOCUS_DISTRICTS)) for _ in range(RUNS)
        ],
        "points_components_district": [
            _points(points.Layer.components, rng.choice(FOCUS_DISTRICTS)) for _ in range(RUNS)
        ],
    }
    for label, calls in suites.items():
        results[label], plans[label] = best_of(engine, calls, label)
    results["plans"] = plans
    engine.dispose()
    return results


def main() -> dict[str, Any]:
    def kind(key: str) -> str:
        return "summary" if key.startswith("summary") else "points"

    return measure_backends("bench_cockpit", run_backend, TARGET_MS, kind)


if __name__ == "__main__":
    main()

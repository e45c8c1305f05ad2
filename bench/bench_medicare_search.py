"""渝药易购 offer search: the nearest 20 open pharmacies with a product in stock, by unit price.

Market: ``sim.medicare_market.BENCH`` (10,000 pharmacies × 5,000 products, ~1.5 M stock rows)
plus 20,000 insured persons, in its own databases (``var/bench/medicare.db`` and PostgreSQL
``cityops_bench_medicare``), loaded once and reused while the sizes match (``BENCH_REBUILD=1``
loads again). Queries: ``BENCH_MEDICARE_QUERIES`` (default 3,000) over 600 products drawn by
stock-row count (popular products are asked for more), from points near random pharmacies
(people live where pharmacies are), Wednesday 10:00. Figures, per backend: the time to build the
in-memory index (one scan of the stock table, what the first query after start pays), then
p50/p95/p99 of the service call (``search.find_offers``: a read-only transaction, the ranking
and the fresh stock read of the offers shown).
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from sqlalchemy import Engine, func, select, text

from bench.common import VAR, backends, console, machine, pg_admin_url, save
from cityops.scenarios.medicare import search
from cityops.scenarios.medicare.models import Drug, Fixmedins, Stock
from cityops.scenarios.medicare.offer_index import OfferIndex
from cityops.scenarios.medicare.offers import SortKey
from cityops.settings import Settings
from cityops.sim import medicare_load, medicare_market
from cityops.store.base import Base, import_all_models
from cityops.store.engine import make_engine, make_session_factory, reading, transaction

import_all_models()
SIZE = medicare_market.BENCH
PERSONS = 20_000
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SETTINGS = Settings(secret_key="bench-secret-key-0123456789abcdef", medicare_index_ttl_s=3600)


def _url(name: str, url: str) -> str:
    if name == "sqlite":
        return f"sqlite:///{VAR / 'medicare.db'}"
    admin = pg_admin_url()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'cityops_bench_medicare'"
        ).fetchone():
            conn.execute('CREATE DATABASE "cityops_bench_medicare"')
    del url
    return (
        "postgresql+psycopg://"
        + admin.split("://", 1)[1].rsplit("/", 1)[0]
        + ("/cityops_bench_medicare")
    )


def _fresh(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            pharmacies = conn.execute(select(func.count()).select_from(Fixmedins)).scalar()
            products = conn.execute(select(func.count()).select_from(Drug)).scalar()
    except Exception:
        return False
    return pharmacies == SIZE.pharmacies + SIZE.hospitals and products == SIZE.products


def prepared(name: str, url: str) -> Engine:
    """The bench market on one backend, loaded unless already there."""
    VAR.mkdir(parents=True, exist_ok=True)
    real = _url(name, url)
    engine = make_engine(real)
    if os.environ.get("BENCH_REBUILD") != "1" and _fresh(engine):
        return engine
    console.print(f"{name}: loading the medicare market ({SIZE})…")
    started = time.perf_counter()
    if name == "sqlite":
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            (VAR / f"medicare.db{suffix}").unlink(missing_ok=True)
        engine = make_engine(real)
    else:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(engine)
    with transaction(make_session_factory(engine)) as s:
        summary = medicare_load.seed_market(session=s, size=SIZE, persons=PERSONS, seed=7)
    if name == "postgres":
        with engine.connect() as conn:
            conn.execute(text("COMMIT"))
            conn.execute(text("ANALYZE"))
            conn.commit()  # ANALYZE's statistics are transactional: closing would roll them back
    console.print(f"{name}: {summary} in {time.perf_counter() - started:.0f} s")
    return engine


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def run(name: str, engine: Engine, n: int) -> dict[str, Any]:
    factory = make_session_factory(engine)
    rng = np.random.default_rng(11)
    with reading(factory) as s:
        counts = s.execute(select(Stock.drug_id, func.count()).group_by(Stock.drug_id)).all()
        codes = dict(s.execute(select(Drug.id, Drug.hilist_code)).all())
        places = np.array(s.execute(select(Fixmedins.lat, Fixmedins.lng)).all(), dtype=np.float64)
    ids = np.array([c[0] for c in counts])
    weight = np.array([c[1] for c in counts], dtype=np.float64)
    products = rng.choice(ids, size=600, replace=False, p=weight / weight.sum())
    index = OfferIndex(SETTINGS.medicare_index_ttl_s)
    t0 = time.perf_counter()
    with reading(factory) as s:
        index.pharmacies(s)  # the first query builds the index: one scan of the stock table
    build_s = time.perf_counter() - t0
    took: list[float] = []
    found: list[int] = []
    for _ in range(n):
        product = int(products[int(rng.integers(len(products)))])
        lat, lng = places[int(rng.integers(len(places)))] + rng.normal(0, 0.01, 2)
        t0 = time.perf_counter()
        with reading(factory) as s:
            got = search.find_offers(
                session=s, index=index, settings=SETTINGS, product=codes[product], lat=lat,
                lng=lng, sort=SortKey.price, limit=20, now=NOW,
            )  # fmt: skip
        took.append((time.perf_counter() - t0) * 1000)
        found.append(len(got.items))
    figures = {
        "queries": n,
        "index_build_s": round(build_s, 2),
        "p50_ms": _pct(took, 50),
        "p95_ms": _pct(took, 95),
        "p99_ms": _pct(took, 99),
        "max_ms": round(max(took), 2),
        "mean_offers": round(statistics.fmean(found), 1),
        "full_pages": sum(1 for f in found if f == 20),
    }
    console.print(
        f"{name}: nearest-20 by unit price over {SIZE.pharmacies:,} pharmacies × "
        f"{SIZE.products:,} products ({n:,} queries) — p50 {figures['p50_ms']} ms, "
        f"p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms; "
        f"index built in {build_s:.1f} s; {figures['mean_offers']} offers a query on average, "
        f"{figures['full_pages']} full pages of 20"
    )
    return figures


def main() -> None:
    n = int(os.environ.get("BENCH_MEDICARE_QUERIES", "3000"))
    results: dict[str, Any] = {"machine": machine(), "size": str(SIZE)}
    for name, url in backends():
        engine = prepared(name, url)
        results[name] = run(name, engine, n)
        engine.dispose()
    save("bench_medicare_search", results)


if __name__ == "__main__":
    main()

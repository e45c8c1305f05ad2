"""Point location over the synthetic Chongqing map: build, load, then locate ≥ 1M points.

Run: ``.venv/bin/python bench/bench_geo.py [--points N] [--db sqlite:///...]``. Prints the map
size, the build and load times, and points per second for random points in the city's bounding
box and in the bounding box of the unit grids (the dense part), with the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections import Counter

import numpy as np

from cityops.geo.service import load_index
from cityops.sim.geography import build_chongqing, load_into
from cityops.store.base import Base, import_all_models
from cityops.store.engine import make_engine, make_session_factory, transaction


def _rate(index: object, xs: np.ndarray, ys: np.ndarray, repeat: int = 3) -> tuple[float, float]:
    best = float("inf")
    inside = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        rows = index.locate_many(xs, ys)  # type: ignore[attr-defined]
        best = min(best, time.perf_counter() - t)
        inside = float((rows >= 0).mean())
    return len(xs) / best, inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--db", default=None, help="database URL (default: a temporary SQLite file)"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, python {platform.python_version()}, cpus {os.cpu_count()}"
    )

    t = time.perf_counter()
    records = build_chongqing(seed=args.seed)
    counts = Counter(r.level.value for r in records)
    print(f"build_chongqing: {time.perf_counter() - t:.2f} s, {dict(counts)}")

    tmp = tempfile.TemporaryDirectory()
    url = args.db or f"sqlite:///{tmp.name}/bench.db"
    import_all_models()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    t = time.perf_counter()
    with transaction(sessions) as session:
        n = load_into(session=session, records=records)
    print(f"load_into ({engine.dialect.name}): {n} rows in {time.perf_counter() - t:.2f} s")

    t = time.perf_counter()
    with sessions() as session:
        index = load_index(session=session)
    print(f"load_index: {len(index)} leaf polygons in {time.perf_counter() - t:.2f} s")

    rng = np.random.default_rng(1)
    minx, miny, maxx, maxy = index.bounds
    xs = rng.uniform(minx, maxx, args.points)
    ys = rng.uniform(miny, maxy, args.points)
    rate, inside = _rate(index, xs, ys)
    print(
        f"locate_many, city bbox: {rate:,.0f} points/s "
        f"({args.points:,} points, {inside:.1%} inside)"
    )

    grids = [r.geometry for r in records if r.level.value == "grid" and r.geometry is not None]
    gx0 = min(g.bounds[0] for g in grids)
    gy0 = min(g.bounds[1] for g in grids)
    gx1 = max(g.bounds[2] for g in grids)
    gy1 = max(g.bounds[3] for g in grids)
    xs = rng.uniform(gx0, gx1, args.points)
    ys = rng.uniform(gy0, gy1, args.points)
    rate, inside = _rate(index, xs, ys)
    print(
        f"locate_many, unit-grid bbox: {rate:,.0f} points/s "
        f"({len(grids):,} grids, {inside:.1%} inside)"
    )
    engine.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()

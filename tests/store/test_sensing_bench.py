"""The sensing benchmark's runs still drive the store as the doors do (a changed internal
signature once left ``run_store`` failing on its first batch, unseen until ``make bench``)."""

from __future__ import annotations

from pathlib import Path

from bench.bench_sensing import batches, run_ingest, run_store, seed
from sqlalchemy import text

from cityops.sensing import recent
from cityops.store.base import Base, import_all_models
from cityops.store.engine import make_engine


def test_store_and_ingest_runs_store_every_reading(tmp_path: Path) -> None:
    import_all_models()
    engine = make_engine(f"sqlite:///{tmp_path / 'sensing.db'}")
    Base.metadata.create_all(engine)
    seed(engine)
    for rates in (run_store(engine, batches(20_000, 0)), run_ingest(engine, batches(20_000, 50))):
        assert all(rate > 0 for rate in rates)
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {recent.both('id')}")).scalar() == 40_000
    engine.dispose()

"""The layout benchmark stores every reading exactly once, whichever layout and thread it uses
(its figures would mean nothing if the compaction lost or doubled rows)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.bench_store_layout import BATCH, Run, Store, batch_rows, datastream_order, measure


@pytest.mark.parametrize(
    "layout,mode,spread,file",
    [
        ("direct", "serial", "shuffled", "shared"),
        ("recent", "serial", "contiguous", "shared"),
        ("recent", "thread", "shuffled", "own"),
        ("parts", "serial", "shuffled", "shared"),
        ("parts", "thread", "contiguous", "own"),
    ],
)
def test_every_reading_is_stored_once(
    tmp_path: Path, layout: str, mode: str, spread: str, file: str
) -> None:
    run = Run(layout, mode, 0.0, 25 * BATCH, spread=spread, file=file, cut=6 * BATCH, chunk=30_000)
    got = measure(run, tmp_path / "layout.db")
    assert got["rows_per_s"] > 0
    assert got["file"] == file and got["fan_command_max_ms"] >= got["fan_command_p50_ms"] >= 0
    assert (tmp_path / "layout_main.db").exists() == (file == "own")
    if layout != "direct":
        assert got["compaction_s"] > 0  # compactions ran, and the count still holds


def test_compaction_moves_rows_in_datastream_order_and_keeps_their_ids(tmp_path: Path) -> None:
    store = Store(Run("recent", "serial", 0.0, rows=2 * BATCH, cut=10**9), tmp_path / "c.db")
    order = datastream_order("contiguous")  # ids then rise with the datastream
    store.take(batch_rows(0, order), BATCH)
    store.take(batch_rows(BATCH, order), BATCH)
    before = store.con.execute("SELECT id, datastream_id FROM observation_recent").fetchall()
    store.compact()
    after = store.con.execute("SELECT id, datastream_id FROM observation ORDER BY rowid").fetchall()
    assert sorted(after) == sorted(before)
    assert [d for _, d in after] == sorted(d for _, d in before)  # written datastream by datastream
    assert store.con.execute("SELECT count(*) FROM observation_recent").fetchone() == (0,)
    store.take(batch_rows(2 * BATCH, order), BATCH)  # ids of moved rows are never handed out again
    (low,) = store.con.execute("SELECT min(id) FROM observation_recent").fetchone()
    assert low > max(i for i, _ in after)


def test_a_run_is_named_layout_mode_door_then_spread_and_file() -> None:
    assert Run.parse("direct:serial:0", 10) == Run("direct", "serial", 0.0, 10)
    run = Run.parse("recent:thread:1.5:contiguous:own", 10)
    assert (run.door_us, run.spread, run.file) == (1.5, "contiguous", "own")
    assert Run.parse("recent:thread:1:contiguous", 10).file == "shared"
    with pytest.raises(SystemExit, match="layout:mode:door_us"):
        Run.parse("recent:thread:1:shuffled:elsewhere", 10)

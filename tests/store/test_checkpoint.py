"""The app checkpoints SQLite's WAL in the background; commits keep only a far backstop."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from cityops.store.checkpoint import BACKSTOP_PAGES, WalCheckpointer, start_checkpointer
from cityops.store.engine import make_engine


def test_background_checkpoint_moves_the_log_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite:///{path}")
    checkpointer = WalCheckpointer(engine, interval=0.02).start()
    try:
        with engine.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == BACKSTOP_PAGES
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        for i in range(20):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 2000 + str(i)})
        deadline = time.monotonic() + 30
        while checkpointer.checkpoints < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        checkpointer.stop()
        engine.dispose()
    # Everything committed is in the database file itself: read it with the log set aside.
    wal = Path(f"{path}-wal")
    if wal.exists():
        wal.rename(tmp_path / "set-aside")
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (20,)
    finally:
        conn.close()


def test_only_sqlite_files_get_a_checkpointer() -> None:
    assert start_checkpointer(make_engine("sqlite://")) is None
    with pytest.raises(ValueError):
        WalCheckpointer(make_engine("sqlite://"))

"""SQLite's one writer is handed over in order among threads; a read never waits for it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import text

from cityops.store.engine import make_engine, make_session_factory, reading, transaction
from cityops.store.writer import WriterQueue


def _wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not done.is_set() and not predicate():
            done.wait(0.001)
    finally:
        deadline.cancel()
    assert predicate(), "timed out"


def _queued(queue: WriterQueue, n: int) -> bool:
    return queue.waiting == n


def test_writers_get_their_turn_in_the_order_they_asked() -> None:
    queue = WriterQueue(timeout=10)
    holder, order = object(), []
    queue.enter(holder)
    threads = []
    for name in ("first", "second", "third"):
        who = object()

        def take(who: object = who, name: str = name) -> None:
            queue.enter(who)
            order.append(name)
            queue.leave(who)

        t = threading.Thread(target=take)
        t.start()
        threads.append(t)
        _wait_until(partial(_queued, queue, len(threads)))  # queued before the next one asks
    queue.leave(holder)
    for t in threads:
        t.join(10)
    assert order == ["first", "second", "third"]


def test_a_writer_that_waits_too_long_gets_database_is_locked() -> None:
    queue = WriterQueue(timeout=0.05)
    queue.enter("holder")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        queue.enter("late")
    assert queue.waiting == 0
    queue.leave("someone else")  # not the holder: nothing changes
    with pytest.raises(sqlite3.OperationalError):
        queue.enter("later")
    queue.leave("holder")
    queue.enter("later")  # free now


def test_a_writer_that_begins_again_at_once_lets_the_waiting_thread_go_first(
    tmp_path: Path,
) -> None:
    """A door storing batch after batch, or the rollup folding chunk after chunk, commits and
    begins again at once; a thread already waiting (a fan command) goes before that next one."""
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    asked = threading.Event()

    def other() -> None:
        asked.set()
        with transaction(sessions) as s:
            s.execute(text("INSERT INTO t (who) VALUES ('other')"))

    t = threading.Thread(target=other)
    try:
        with transaction(sessions) as s:
            s.execute(text("INSERT INTO t (who) VALUES ('busy')"))
            t.start()
            assert asked.wait(10)
            threading.Event().wait(0.2)  # let it settle into waiting for the writer
        with transaction(sessions) as s:  # straight into the next transaction
            seen = s.execute(text("SELECT count(*) FROM t WHERE who = 'other'")).scalar()
    finally:
        t.join(10)
        engine.dispose()
    assert seen == 1


def test_a_read_does_not_wait_for_the_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        s.execute(text("INSERT INTO t DEFAULT VALUES"))
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction(sessions) as s:
            s.execute(text("INSERT INTO t DEFAULT VALUES"))
            holding.set()
            release.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert holding.wait(10)
        with reading(sessions) as s:  # would queue behind the writer for 30 s if it wrote
            assert s.execute(text("SELECT count(*) FROM t")).scalar() == 1
        assert not release.is_set() and t.is_alive()
    finally:
        release.set()
        t.join(10)
    with reading(sessions) as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 2
    engine.dispose()

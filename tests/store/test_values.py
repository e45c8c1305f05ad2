"""Multi-row VALUES lists (``store.values``): every row goes in once, in order, in chunks whose
statement texts are few enough to stay compiled."""

from __future__ import annotations

import sqlite3

import pytest

from cityops.store import values


@pytest.mark.parametrize("count", [0, 1, 7, 1023, 1024, 1025, 3000, 5 * 1024 + 511])
def test_chunks_cover_every_row_once_in_powers_of_two(count: int) -> None:
    pieces = list(values.chunks(count, 1024))
    assert sum(size for _start, size in pieces) == count
    starts = [start for start, _size in pieces]
    assert starts == [sum(size for _s, size in pieces[:i]) for i in range(len(pieces))]
    sizes = [size for _start, size in pieces]
    assert all(size & (size - 1) == 0 and size <= 1024 for size in sizes)
    assert sizes == sorted(sizes, reverse=True)  # full chunks first, then the rest's bits
    assert len(set(sizes)) <= 11


def test_most_rows_keeps_a_statement_within_the_variable_limit() -> None:
    for width in (1, 3, 7, 8, 100):
        most = values.most_rows(width)
        assert most * width + 2 <= values.VARIABLE_LIMIT and most & (most - 1) == 0
    assert values.most_rows(values.VARIABLE_LIMIT - 2) == 1
    with pytest.raises(ValueError, match="over SQLite's limit"):
        values.most_rows(values.VARIABLE_LIMIT - 1)


def test_rows_go_into_sqlite_unchanged_and_in_order() -> None:
    rows = [(i, i * 0.1 + 1e-12, None if i % 5 else f"行{i}") for i in range(2500)]
    with sqlite3.connect(":memory:") as db:
        db.execute("CREATE TABLE t (n INTEGER, x REAL, s TEXT)")
        for start, size in values.chunks(len(rows), values.most_rows(3)):
            sql = f"INSERT INTO t SELECT * FROM {values.rows_list(size, 3)}"
            db.execute(sql, values.flat(rows, start, size))
        assert db.execute("SELECT n, x, s FROM t ORDER BY rowid").fetchall() == rows

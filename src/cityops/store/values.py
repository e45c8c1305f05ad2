"""Multi-row ``VALUES`` lists for SQLite's bulk writes: rows bound as parameters, in chunks.

Why not one JSON text through ``json_each`` (the intake's way until 2026-11-27): SQLite parses
each element's JSON again for every ``value ->> i`` (~4 µs a row of three columns) and
``json.dumps`` spends ~2 µs a row on the floats' ``repr``; bound parameters cost ~2 µs a row in
all (10,000 rows into a time-keyed table: 6.2 against 2.4 µs a row). Like the JSON text, and
unlike ``executemany``, a chunk is one statement, so the GIL is given up once per chunk, not
once per row.

Chunks hold at most ``MOST_ROWS`` rows and the rest goes in powers of two (the binary digits of
what is left), so a table has a dozen statement texts at most, each compiled once and then taken
from the connection's statement cache (``store.engine`` keeps 512): compiling a 1,024-row list
takes ~2 ms, running it ~0.4 ms.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from functools import cache
from itertools import chain
from typing import Any

MOST_ROWS = 1024
STATEMENT_CACHE = 512  # sqlite3.connect's cached_statements (its default, 128, is too few)


@cache
def rows_list(size: int, width: int) -> str:
    """``(VALUES (?, ?), (?, ?), …)``: ``size`` rows of ``width`` parameters, named
    ``column1`` … ``column<width>`` in the statement around it."""
    row = "(" + ",".join("?" * width) + ")"
    return "(VALUES " + ",".join([row] * size) + ")"


def _variable_limit() -> int:
    with closing(sqlite3.connect(":memory:")) as connection:
        return int(connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


VARIABLE_LIMIT = _variable_limit()  # 32,766 since SQLite 3.32; 999 before


@cache
def most_rows(width: int, extra: int = 2) -> int:
    """The largest power of two ≤ ``MOST_ROWS`` whose rows of ``width`` parameters, with
    ``extra`` more, this SQLite build takes in one statement; ValueError when not even one
    row fits (no table of ours comes near: SQLite's own error would name no table)."""
    if width + extra > VARIABLE_LIMIT:
        raise ValueError(
            f"a row of {width} parameters (+{extra}) is over SQLite's limit of "
            f"{VARIABLE_LIMIT} a statement"
        )
    most = MOST_ROWS
    while most > 1 and most * width + extra > VARIABLE_LIMIT:
        most //= 2
    return most


def chunks(count: int, most: int) -> Iterator[tuple[int, int]]:
    """(start, size) of ``count`` rows: full chunks of ``most``, then powers of two."""
    start = 0
    while count - start >= most:
        yield start, most
        start += most
    size = most // 2
    while start < count:
        if size <= count - start:
            yield start, size
            start += size
        size //= 2


def flat(rows: Sequence[Sequence[Any]], start: int, size: int) -> list[Any]:
    """The parameters of ``rows[start : start + size]``, row after row."""
    return list(chain.from_iterable(rows[start : start + size]))


def execute(cursor: Any, statement: Callable[[int], str], rows: Sequence[Sequence[Any]]) -> None:
    """Run ``statement(size)`` (a ``rows_list(size, width)`` around it, no other parameters)
    over ``rows``, a chunk at a time."""
    width = len(rows[0]) if rows else 0
    for start, size in chunks(len(rows), most_rows(width, 0)):
        cursor.execute(statement(size), flat(rows, start, size))

"""Two SQLite files: the readings in one of their own, attached as ``sensing``.

Why: SQLite has one writer per file. In one file, the sensing store's transactions (a batch of
10,000 readings, a compaction step of 300–700 ms at 5 million rows) hold the lock a fan command,
a case or a ledger entry needs. With the readings' tables (``TABLES``) in ``<name>-sensing.db``,
a transaction that writes only them takes only that file's lock (``store.engine.transaction``
with ``writes=SENSING``), one that writes only the main file takes only the main file's
(``writes=MAIN``: a rule's reaction), and any other takes both, as before. Readers keep their
unqualified table names: SQLite looks a name up in ``main`` first, then in the attached files.

What it costs: a transaction that writes both files is atomic in each, not across a crash (a
datastream deleted with its readings is two commits in effect), and a copy of the database is
both files. An older database keeps its readings in the main file until migration 0003 moves
them; while they are there the split is off and every transaction takes both locks.
PostgreSQL is one database: none of this applies there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData

MAIN = "main"
SENSING = "sensing"  # the attached file's schema name
# The tables the sensing store writes (readings, latest values, aggregates, marks, message ids)
TABLES = frozenset(
    {
        "observation",
        *(f"observation_recent_{part}" for part in range(10)),
        "sta_datastream_latest",
        "obs_agg_1m",
        "obs_agg_1h",
        "sensing_watermark",
        "sensing_ingest_message",
    }
)
LAYOUT = "cityops_files"  # the connection record's info key: (split, touch statements)


def sensing_path(database: str | None) -> str | None:
    """``data/cityops.db`` → ``data/cityops-sensing.db``; None for memory and URI databases."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    return str(path.with_name(f"{path.stem}-sensing{path.suffix or '.db'}"))


def attach(dbapi_conn: Any, path: str) -> tuple[bool, dict[str, str]]:
    """Attach the sensing file (made if missing) in WAL mode; say whether the readings' tables
    live there (and not in main), with a statement per file that takes only its write lock."""
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"ATTACH DATABASE ? AS {SENSING}", (path,))
        cur.execute(f"PRAGMA {SENSING}.journal_mode=WAL")
        cur.execute(f"PRAGMA {SENSING}.synchronous=NORMAL")
        cur.execute(f"PRAGMA {SENSING}.cache_size=-65536")
        names = {}
        for schema in (MAIN, SENSING):
            cur.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'")
            names[schema] = {str(row[0]) for row in cur.fetchall()}
    finally:
        cur.close()
    split = "sensing_watermark" in names[SENSING] and not names[MAIN] & TABLES
    touch = {
        # a write that changes nothing, so that a deferred BEGIN takes this file's lock first
        schema: f'DELETE FROM {schema}."{min(tables)}" WHERE 0'
        for schema, tables in names.items()
        if tables
    }
    return split, touch


def create_all(engine: Engine, metadata: MetaData) -> None:
    """``metadata.create_all``, the readings' tables in the sensing file when there is one."""
    if engine.dialect.name != "sqlite" or sensing_path(engine.url.database) is None:
        metadata.create_all(engine)
        return
    tables = metadata.sorted_tables
    metadata.create_all(engine, tables=[t for t in tables if t.name not in TABLES])
    apart = engine.execution_options(schema_translate_map={None: SENSING})
    metadata.create_all(apart, tables=[t for t in tables if t.name in TABLES])
    engine.dispose()  # connections made before know the tables' old places


def remove_database(path: Path | str) -> None:
    """Delete an SQLite database: the main file, the readings' file and their logs."""
    found = [str(path)]
    sensing = sensing_path(str(path))
    if sensing is not None:
        found.append(sensing)
    for name in found:
        for suffix in ("", "-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)

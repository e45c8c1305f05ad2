"""the readings' tables move to the SQLite file attached as ``sensing`` (``store.files``)

Each table is made again there from its own ``CREATE`` text (and its indexes'), its rows copied
with their ids, and the main file's copy dropped. Safe to run again after a crash between the
two files' commits: a table still in the main file is copied afresh. Nothing on PostgreSQL or on
a database with no file to attach (in memory).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 14:30:00
"""

from __future__ import annotations

import re

from alembic import op
from sqlalchemy import Connection, text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = (  # frozen here: a migration does not follow later models
    "observation",
    *(f"observation_recent_{part}" for part in range(10)),
    "sta_datastream_latest",
    "obs_agg_1m",
    "obs_agg_1h",
    "sensing_watermark",
    "sensing_ingest_message",
)
_NAMED = re.compile(r'^(CREATE (?:UNIQUE )?(?:TABLE|INDEX) )("?)(\w+)\2', re.IGNORECASE)


def upgrade() -> None:
    _move(op.get_bind(), "main", "sensing")


def downgrade() -> None:
    _move(op.get_bind(), "sensing", "main")


def _move(conn: Connection, source: str, target: str) -> None:
    if conn.dialect.name != "sqlite" or not _attached(conn):
        return
    for table in TABLES:
        rows = conn.execute(
            text(
                f"SELECT type, sql FROM {source}.sqlite_master "
                "WHERE tbl_name = :t AND sql IS NOT NULL ORDER BY type = 'index'"
            ),
            {"t": table},
        ).all()
        if not rows:  # moved already
            continue
        conn.execute(text(f'DROP TABLE IF EXISTS {target}."{table}"'))
        for _kind, sql in rows:  # the table first, then its indexes
            conn.execute(text(_NAMED.sub(rf'\1{target}."\3"', sql, count=1)))
        conn.execute(text(f'INSERT INTO {target}."{table}" SELECT * FROM {source}."{table}"'))
        conn.execute(text(f'DROP TABLE {source}."{table}"'))


def _attached(conn: Connection) -> bool:
    names = {str(row[1]) for row in conn.execute(text("PRAGMA database_list"))}
    return "sensing" in names

"""Key rotation: re-encrypt personal data under the ring's newest key, in batches.

Rotating a key (docs/privacy.md): put the new key first in ``CITYOPS_DATA_KEYS`` and keep the old
one after it, restart, run ``cityops privacy rotate-keys``; when it reports nothing left under
old keys, drop the old key. Rows written before encryption (plain text) are encrypted by the same
pass. Each batch is its own transaction, so a long run can be stopped and run again; the
values' meaning never changes, so the case rows' versions are not bumped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, Text, column, select, table, update

from cityops.store.crypto import KeyRing, encrypted_columns


@dataclass
class RekeyReport:
    rows_read: int = 0
    values_rewritten: int = 0
    by_table: dict[str, int] = field(default_factory=dict)


def _raw(t: Table, names: list[str]) -> Any:
    """The table with its encrypted columns as plain text (no encryption on bind or read)."""
    pk = next(iter(t.primary_key.columns)).name
    return table(t.name, column(pk), *(column(n, Text) for n in names)), pk


def rotate(
    engine: Engine,
    tables: list[Table],
    keys: KeyRing,
    *,
    batch: int = 1000,
    dry_run: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> RekeyReport:
    """Re-encrypt every value not under ``keys.current``; ``dry_run`` only counts them."""
    report = RekeyReport()
    by_table: dict[Table, list[str]] = {}
    for t, c in encrypted_columns(tables):
        by_table.setdefault(t, []).append(c.name)
    for t, names in by_table.items():
        raw, pk = _raw(t, names)
        last: Any = None
        while True:
            with engine.begin() as conn:
                stmt = select(raw.c[pk], *(raw.c[n] for n in names)).order_by(raw.c[pk])
                if last is not None:
                    stmt = stmt.where(raw.c[pk] > last)
                rows = conn.execute(stmt.limit(batch)).all()
                if not rows:
                    break
                last = rows[-1][0]
                report.rows_read += len(rows)
                for row in rows:
                    new = {
                        n: keys.encrypt(keys.decrypt(v))
                        for n, v in zip(names, row[1:], strict=True)
                        if v is not None and keys.key_id(v) != keys.current
                    }
                    if not new:
                        continue
                    report.values_rewritten += len(new)
                    report.by_table[t.name] = report.by_table.get(t.name, 0) + len(new)
                    if not dry_run:
                        conn.execute(update(raw).where(raw.c[pk] == row[0]).values(**new))
            if progress is not None:
                progress(t.name, report.rows_read)
    return report

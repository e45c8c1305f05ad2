"""Shared helpers: the shipped synthetic tables and a record builder with sensible defaults."""

from __future__ import annotations

from typing import Any

from cityops.scenarios.medicare import drg_loader, grouper, records
from cityops.scenarios.medicare.drg_tables import DrgTables

TABLES: DrgTables = drg_loader.load().tables


def rec(**kw: Any) -> records.DischargeRecord:
    base: dict[str, Any] = {"id": "r1", "hospital": "H1", "sex": 1, "age": 45}
    base.update(kw)
    return records.parse(base)


def group(**kw: Any) -> grouper.Grouping:
    return grouper.group(rec(**kw), TABLES)


def trace(g: grouper.Grouping) -> list[str]:
    return [str(s) for s in g.trace]

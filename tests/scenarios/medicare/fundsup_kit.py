"""Small hand-made columnar data for the fund-supervision tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from cityops.scenarios.medicare.supervise import Institutions, Transactions

DAY = int(np.datetime64("2026-05-04", "D").astype(np.int64))
ITEMS = ["G1", "MALE", "CHILD", "INJURY", "ER", "L2", "SA", "SB"]
INSTS = ["P1", "P2", "H1", "H3"]


def institutions() -> Institutions:
    return Institutions(
        codes=INSTS, level=np.array([0, 0, 1, 3], np.int8),
        district=["500103", "500103", "500103", "500105"], kind=["chain"] * 4,
        capacity=np.full(4, np.nan),
    )  # fmt: skip


def lines(rows: list[dict[str, Any]]) -> Transactions:
    """Rows with keys setl, psn, inst, item (code), day (offset), minute (of day), cnt, sex, age,
    insutype, med_type, refund (minutes after the sale or None), trace (code or None)."""

    def col(name: str, default: Any, dtype: Any) -> Any:
        return np.array([r.get(name, default) for r in rows], dtype=dtype)

    minute = (DAY + col("day", 0, np.int64)) * 1440 + col("minute", 600, np.int64)
    refund = np.array([-1 if r.get("refund") is None else r["refund"] for r in rows], np.int64)
    traced = [i for i, r in enumerate(rows) if r.get("trace")]
    return Transactions(
        line_id=np.arange(100, 100 + len(rows), dtype=np.int64),
        setl=np.array([r.get("setl", i) for i, r in enumerate(rows)], np.int64),
        psn=col("psn", 0, np.int32), inst=np.array([INSTS.index(r.get("inst", "P1"))
                                                    for r in rows], np.int32),
        item=np.array([ITEMS.index(r.get("item", "G1")) for r in rows], np.int32),
        minute=minute, cnt=col("cnt", 1, np.int32), amount=col("amount", 1000, np.int64),
        acct_pay=col("acct", 900, np.int64), sex=col("sex", 1, np.int8),
        age=col("age", 40, np.int16),
        insutype=col("insutype", 310, np.int16), med_type=col("med_type", 41, np.int16),
        refund_minute=np.where(refund >= 0, minute + refund, -1),
        trace_row=np.array(traced, np.int64),
        trace_code=np.array([int(rows[i]["trace"]) for i in traced], np.int64),
        persons=[f"50010{i:05d}" for i in range(10)], items=ITEMS, institutions=institutions(),
        traces=[str(i) for i in range(10)],
    )  # fmt: skip

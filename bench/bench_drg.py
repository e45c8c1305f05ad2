"""DRG grouping throughput on a month of synthetic discharges (issue 7 item 4): pure CPU, no DB.

``python -m bench drg``. Sizes: ``BENCH_DRG_CASES`` (default 100,000 discharges: a month for the
36 synthetic hospitals), ``BENCH_DRG_SEED`` (7); ``BENCH_REPEAT`` (2) runs, the better reported
with the spread. Tables: the shipped SYNTHETIC ones, or ``BENCH_DRG_TABLES`` (a directory in the
CSV layout of docs/medicare.md). Measured, each in one process on one core:

- **group**: ``group_many`` over the month, every result with its trace → records/s
  (target ≥ 20,000 records/s);
- **CMI by hospital**: ``cmi_by_hospital`` over the groupings;
- **payment**: ``pay_case`` for every record (费率 × RW, outliers) and DIP ``score``;
- **batch**: the whole of ``service.summarise`` (group + CMI + payment by hospital).

Results go to ``bench/results/bench_drg.json``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bench.common import console, save
from cityops.scenarios.medicare import dip, drg_loader, grouper, payment, service
from cityops.sim.medicare_discharges import generate

TARGET_RECORDS_PER_S = 20_000


def _env(name: str, default: str) -> str:
    return os.environ.get(f"BENCH_DRG_{name}", default)


def _best(runs: int, fn: Any) -> tuple[float, float, Any]:
    """Best seconds, spread (worst − best) / best, and the last result."""
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    best = min(times)
    return best, (max(times) - best) / best if best else 0.0, out


def main() -> None:
    cases = int(_env("CASES", "100000").replace("_", ""))
    seed = int(_env("SEED", "7"))
    repeat = int(os.environ.get("BENCH_REPEAT", "2"))
    tables_dir = Path(_env("TABLES", str(drg_loader.SHIPPED)))
    loaded = drg_loader.load(tables_dir)
    t = loaded.tables
    m = service.Medicare(loaded, payment.load_rules(), *_dip())
    t0 = time.perf_counter()
    records = list(generate(t, cases=cases, seed=seed))
    generated = time.perf_counter() - t0
    group_s, group_spread, gs = _best(repeat, lambda: grouper.group_many(records, t))
    cmi_s, _, by_hospital = _best(repeat, lambda: payment.cmi_by_hospital(records, gs))
    rules = m.rules

    def pay_all() -> int:
        total = 0
        for r, g in zip(records, gs, strict=True):
            level = r.hospital_level or "三级"
            total += payment.pay_case(r, g, tables=t, rules=rules, level=level).paid_fen
        return total

    pay_s, _, paid = _best(repeat, pay_all)
    dip_s, _, _ = _best(
        repeat,
        lambda: [dip.score(r, m.dip, rules=rules.dip, or_procs=t.or_procs) for r in records],
    )
    batch_s, _, summary = _best(repeat, lambda: service.summarise(m, records, []))
    rate = cases / group_s
    status = {s.value: sum(1 for g in gs if g.status == s) for s in grouper.Status}
    console.print(
        f"{cases:,} discharges ({len(by_hospital)} hospitals, tables {t.version}"
        f"{', synthetic' if t.synthetic else ''}, seed {seed}) generated in {generated:.1f} s; "
        f"statuses {status}; CMI {summary.cmi}"
    )
    console.print(
        f"group_many {group_s:.2f} s = {rate:,.0f} records/s (spread {group_spread:.0%}); "
        f"CMI by hospital {cmi_s * 1000:.0f} ms; payment {pay_s:.2f} s "
        f"({cases / pay_s:,.0f}/s, Σ ¥{paid / 100:,.0f}); DIP {dip_s:.2f} s "
        f"({cases / dip_s:,.0f}/s); whole batch {batch_s:.2f} s"
    )
    ok = rate >= TARGET_RECORDS_PER_S
    console.print(
        f"{'[green]meets' if ok else '[red]MISSED'}[/] ≥ {TARGET_RECORDS_PER_S:,} records/s"
    )
    save(
        "bench_drg",
        {
            "cases": cases,
            "seed": seed,
            "tables": t.version,
            "synthetic": t.synthetic,
            "hospitals": len(by_hospital),
            "statuses": status,
            "cmi": str(summary.cmi),
            "generate_seconds": round(generated, 2),
            "group_seconds": round(group_s, 3),
            "group_spread": round(group_spread, 3),
            "records_per_s": round(rate),
            "cmi_by_hospital_ms": round(cmi_s * 1000, 1),
            "payment_seconds": round(pay_s, 3),
            "dip_seconds": round(dip_s, 3),
            "batch_seconds": round(batch_s, 3),
            "target_records_per_s": TARGET_RECORDS_PER_S,
            "meets": ok,
        },
    )


def _dip() -> tuple[dip.Catalogue, tuple[drg_loader.LoadIssue, ...]]:
    cat, issues = dip.load_catalogue()
    return cat, tuple(issues)


if __name__ == "__main__":
    main()

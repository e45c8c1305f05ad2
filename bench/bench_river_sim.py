"""River simulator: one year of hourly series for ``BENCH_RIVER_STATIONS`` stations (pure numpy).

Figure: ``generate`` — ``river_series.generate_chunks`` over 365 days for 1,000 stations by default
(15 properties each, default faults, discharges at 0.2 per station-month with their labels),
100 stations a chunk; time, values per second and peak memory (the process's max RSS).
"""

from __future__ import annotations

import os
import resource
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import console, machine, save
from cityops.sim.river_incidents import random_discharges
from cityops.sim.river_series import generate_chunks
from cityops.sim.river_spec import PROPERTIES, StationSpec

START = datetime(2026, 1, 1, tzinfo=UTC)


def stations(n: int) -> list[StationSpec]:
    """Ten stations a river, 8 km apart, targets II–IV in turn."""
    return [
        StationSpec(f"R{i // 10:03d}-S{i % 10}", f"R{i // 10:03d}", 5.0 + 8 * (i % 10), t)
        for i, t in zip(range(n), ["II", "III", "IV"] * n, strict=False)
    ]


def main() -> None:
    n = int(os.environ.get("BENCH_RIVER_STATIONS", "1000"))
    days = int(os.environ.get("BENCH_RIVER_DAYS", "365"))
    group = stations(n)
    hours = 24 * days
    found = random_discharges(group, START, hours, seed=1)
    t0 = time.perf_counter()
    values = labels = 0
    for part in generate_chunks(group, start=START, hours=hours, seed=1, discharges=found):
        values += part.values.size
        labels += len(part.labels)
    took = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results: dict[str, Any] = {
        "machine": machine(),
        "stations": n,
        "days": days,
        "properties": len(PROPERTIES),
        "values": values,
        "discharges": len(found),
        "labels": labels,
        "seconds": round(took, 2),
        "values_per_s": round(values / took),
        "max_rss_mb": round(rss_mb),
    }
    console.print(
        f"river simulator: {n} stations × {days} days × {len(PROPERTIES)} properties = "
        f"{values:,} values in {took:.1f} s ({results['values_per_s']:,}/s), "
        f"{len(found)} discharges → {labels} labels; max RSS {rss_mb:.0f} MB"
    )
    save("bench_river_sim", results)


if __name__ == "__main__":
    main()

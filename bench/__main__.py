"""``python -m bench [names...]`` (``make bench``): run the benchmarks and write bench/results/.

Names: ``queries``, ``cockpit``, ``intake``, ``geo``, ``rules``, ``sensing``, ``devices``,
``river_sim``, ``river_eval`` (``BENCH_RIVER_STATIONS``, default 1,000: a year of hourly water
quality evaluated), ``river_detect`` (``BENCH_RIVER_DETECT_STATIONS``/``_DAYS``: detection rate and
false alarms on the simulator's labelled discharges), ``drg`` (``BENCH_DRG_CASES``, default 100,000:
a month of synthetic discharges grouped, CMI by hospital, payment), ``mqtt``, ``burst``, ``bus``,
``pipeline``, ``store_layout`` (the raw store's two SQLite layouts beside a stand-in door;
``BENCH_LAYOUT_ROWS``, ``BENCH_LAYOUT_RUNS``), ``open311`` (GeoReport v2 over uvicorn next to a
bare endpoint; ``BENCH_OPEN311_N``,
``BENCH_OPEN311_CLIENTS``), ``medicare_search`` (nearest-20 offers over 10,000 pharmacies × 5,000
products; ``BENCH_MEDICARE_QUERIES``), ``medicare_orders`` (settlements per second with concurrent
payers and a balance audit; ``BENCH_MEDICARE_ORDERS``), ``classify`` (held-out accuracy and
reports/s of the text classifier), ``fundsup`` (``BENCH_FUNDSUP_LINES``, default 10,000,000:
fund-supervision rules and peer fences), ``cockpit_web`` (when present); none given runs them all.
The history is loaded once per database and reused (``BENCH_CASES``, default 4,000,000;
``BENCH_REBUILD=1`` loads it again; ``BENCH_REPEAT``, default 2, is how often each figure is
measured). ``rules`` needs no history: it builds its own SQLite file. ``cockpit_web`` needs the
built web app and Chromium (its own database, ``BENCH_DEVICES`` devices).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import sys
import time
from typing import Any

from bench.common import console, machine, print_machine, save

ALL = (
    "geo",
    "queries",
    "cockpit",
    "intake",
    "rules",
    "sensing",
    "devices",
    "river_sim",
    "river_eval",
    "river_detect",
    "drg",
    "mqtt",
    "burst",
    "bus",
    "pipeline",
    "store_layout",
    "open311",
    "medicare_search",
    "medicare_orders",
    "classify",
    "fundsup",
    "cockpit_web",
)


class _Tee(io.TextIOBase):
    """Print as usual and keep a copy (bench_geo prints its figures rather than saving them)."""

    def __init__(self, out: Any) -> None:
        self.out, self.kept = out, io.StringIO()

    def write(self, text: str) -> int:
        self.kept.write(text)
        return int(self.out.write(text))

    def flush(self) -> None:
        self.out.flush()


def _run(name: str) -> None:
    module = importlib.import_module(f"bench.bench_{name}")
    argv, sys.argv = sys.argv, [f"bench/bench_{name}.py"]  # a bench's own argparse sees no names
    try:
        if name != "geo":
            module.main()
            return
        tee = _Tee(sys.stdout)
        with contextlib.redirect_stdout(tee):
            module.main()
        save("bench_geo", {"output": tee.kept.getvalue().splitlines()})
    finally:
        sys.argv = argv


def main(argv: list[str]) -> int:
    names = [a.removeprefix("bench_") for a in argv] or [
        n for n in ALL if importlib.util.find_spec(f"bench.bench_{n}") is not None
    ]
    unknown = [n for n in names if importlib.util.find_spec(f"bench.bench_{n}") is None]
    if unknown:
        console.print(f"[red]unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(ALL)}")
        return 2
    print_machine(machine())
    for name in names:
        console.rule(f"bench_{name}")
        started = time.perf_counter()
        _run(name)
        console.print(f"bench_{name} took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``python -m bench [names...]`` (``make bench``): run the benchmarks and write bench/results/.

Names: ``queries``, ``intake``, ``geo`` (when present); none given runs them all. The history
is loaded once per database and reused (``BENCH_CASES``, default 4,000,000).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time

from bench.common import console

ALL = ("geo", "queries", "intake")


def main(argv: list[str]) -> int:
    names = [a.removeprefix("bench_") for a in argv] or [
        n for n in ALL if importlib.util.find_spec(f"bench.bench_{n}") is not None
    ]
    unknown = [n for n in names if importlib.util.find_spec(f"bench.bench_{n}") is None]
    if unknown:
        console.print(f"[red]unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(ALL)}")
        return 2
    for name in names:
        console.rule(f"bench_{name}")
        started = time.perf_counter()
        module = importlib.import_module(f"bench.bench_{name}")
        module.main()
        console.print(f"bench_{name} took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

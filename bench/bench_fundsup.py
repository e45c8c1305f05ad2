"""Fund-supervision rules over synthetic settlements (issue 7 item 5): pure CPU, no DB.

``python -m bench fundsup``. ``BENCH_FUNDSUP_LINES`` (default 10,000,000 fee lines), seed 7.
Prints the time of the rule base and of the peer layer (target: both < 2 minutes), recall per
rule type on the planted cases and the false positives on the clean part.
"""

from __future__ import annotations

import os
import time

from bench.common import console, save
from cityops.scenarios.medicare.peers import peer_outliers
from cityops.scenarios.medicare.supervise import evaluate
from cityops.scenarios.medicare.supervision_rules import load_rules
from cityops.sim.medicare_fundsup import generate

TARGET_S = 120.0


def main() -> None:
    n = int(os.environ.get("BENCH_FUNDSUP_LINES", "10000000").replace("_", ""))
    rules = load_rules()
    t0 = time.perf_counter()
    syn = generate(rules, lines=n, seed=7)
    t1 = time.perf_counter()
    hits = evaluate(rules, syn.transactions, syn.discharges)
    t2 = time.perf_counter()
    peer = peer_outliers(syn.transactions)
    t3 = time.perf_counter()
    found = {(h.rule_type, h.subject) for h in hits}
    recall: dict[str, list[int]] = {}
    for kind, subject in syn.planted:
        got = recall.setdefault(kind, [0, 0])
        got[0] += 1
        got[1] += (kind, subject) in found
    false_pos = len(found - syn.planted)
    total = t3 - t1
    console.print(f"{len(syn.transactions):,} lines generated in {t1 - t0:.1f} s")
    verdict = "ok" if total < TARGET_S else "MISSED"
    console.print(f"rules {t2 - t1:.1f} s, peers {t3 - t2:.1f} s, total {total:.1f} s "
                  f"(target < {TARGET_S:.0f} s: {verdict})")  # fmt: skip
    for kind, (planted, hit) in sorted(recall.items()):
        console.print(f"  {kind:24} recall {hit}/{planted}")
    console.print(f"rule false positives on clean data: {false_pos}; peer outliers: {len(peer)}")
    save("bench_fundsup", {"lines": len(syn.transactions), "rules_s": t2 - t1,
                           "peers_s": t3 - t2, "recall": recall, "false_positives": false_pos,
                           "peer_outliers": len(peer)})  # fmt: skip

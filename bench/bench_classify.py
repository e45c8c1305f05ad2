"""Report classification (智能分类) on the held-out fifth of the corpus, and its speed.

Trains on the corpus's training part (as the server does; the model is not cached here, so the
fit time is measured too), then prints top-1/top-3 accuracy, macro-F1, accuracy per major class,
the 10 worst categories, the most frequent confusions, the auto-filing cutoffs (coverage and
precision per confidence threshold) and throughput: reports/s in one process, batched and one
at a time. Targets: top-1 ≥ 90 %, top-3 ≥ 98 %, ≥ 200 reports/s.
"""

from __future__ import annotations

import time

from bench.common import console, save
from cityops.cases.categories import load_catalogue
from cityops.cases.classify import train
from cityops.cases.classify_eval import evaluate
from cityops.cases.corpus import load_corpus, split


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def main() -> None:
    catalogue = load_catalogue()
    corpus = load_corpus(catalogue)
    for err in corpus.errors:
        console.print(f"[yellow]corpus: {err}")
    train_part, held = split(corpus.examples)
    counts = {code: len(v) for code, v in corpus.by_code().items()}
    console.print(
        f"corpus: {len(corpus.examples)} reports in {len(counts)}/{len(catalogue.all())} "
        f"categories (min {min(counts.values(), default=0)} per category); "
        f"train {len(train_part)}, held out {len(held)}"
    )
    started = time.perf_counter()
    model = train(catalogue, train_part)
    fit_s = time.perf_counter() - started
    ev = evaluate(model, held)
    console.print(
        f"held out: top-1 {_pct(ev.top1)}, top-3 {_pct(ev.top3)}, macro-F1 {ev.macro_f1:.3f} "
        f"(fit {fit_s:.1f} s)"
    )
    names = {m[0]: m[1] for m in catalogue.majors()}
    console.print(
        "per major: "
        + ", ".join(f"{m} {names.get(m, '')} {_pct(a)}" for m, a in ev.per_major.items())
    )
    worst = sorted(ev.per_category.items(), key=lambda kv: (kv[1][0], kv[0]))[:10]
    console.print("10 worst categories:")
    for code, (acc, n) in worst:
        console.print(f"  {code} {model.names.get(code, '')}: {_pct(acc)} of {n}")
    console.print("most frequent confusions (true → predicted):")
    for g, p, k in ev.confusions[:10]:
        console.print(f"  {g} {model.names.get(g, '')} → {p} {model.names.get(p, '')}: {k}")
    console.print("auto-filing cutoffs (threshold: share auto-filed, of which right):")
    for c in ev.cutoffs:
        console.print(f"  ≥ {c.threshold:.2f}: {_pct(c.coverage)} auto, {_pct(c.precision)} right")
    console.print(f"lowest threshold with ≥ 97% right: {ev.threshold_for(0.97)}")
    texts = [e.text for e in held] * max(1, 2000 // max(len(held), 1))
    started = time.perf_counter()
    for i in range(0, len(texts), 100):
        model.suggest_many(texts[i : i + 100])
    batched = len(texts) / (time.perf_counter() - started)
    one = texts[:500]
    started = time.perf_counter()
    for t in one:
        model.suggest(t)
    single = len(one) / (time.perf_counter() - started)
    console.print(
        f"throughput (1 process): {batched:,.0f} reports/s in batches of 100, "
        f"{single:,.0f} reports/s one at a time (target ≥ 200)"
    )
    save(
        "bench_classify",
        {
            "reports": len(corpus.examples),
            "held_out": ev.n,
            "top1": ev.top1,
            "top3": ev.top3,
            "macro_f1": ev.macro_f1,
            "per_major": ev.per_major,
            "worst": [{"code": c, "accuracy": a, "n": n} for c, (a, n) in worst],
            "confusions": [{"true": g, "predicted": p, "n": k} for g, p, k in ev.confusions[:20]],
            "cutoffs": [
                {"threshold": c.threshold, "coverage": c.coverage, "precision": c.precision}
                for c in ev.cutoffs
            ],
            "fit_seconds": fit_s,
            "reports_per_s_batched": batched,
            "reports_per_s_single": single,
        },
    )


if __name__ == "__main__":
    main()

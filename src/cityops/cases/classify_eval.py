"""How good the classifier is on the held-out fifth of the corpus (bench and tests share it).

Figures: top-1 and top-3 accuracy, macro-F1, accuracy per major class and per category, the most
frequent confusions, and for each confidence threshold the share of reports that would be filed
automatically and how many of those would be right (the basis of ``classify_min_confidence``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from cityops.cases.classify import Classifier, Suggestion
from cityops.cases.corpus import Example

THRESHOLDS = tuple(round(0.3 + 0.05 * i, 2) for i in range(14))  # 0.30 … 0.95


@dataclass(frozen=True, slots=True)
class Cutoff:
    threshold: float
    coverage: float  # share of reports at or above the threshold (auto-filed)
    precision: float | None  # share of those whose top-1 is right


@dataclass
class Evaluation:
    n: int
    top1: float
    top3: float
    macro_f1: float
    per_major: dict[str, float]
    per_category: dict[str, tuple[float, int]]  # code → (top-1 accuracy, held-out count)
    confusions: list[tuple[str, str, int]]  # (true, predicted, count), most frequent first
    cutoffs: list[Cutoff] = field(default_factory=list)

    def threshold_for(self, precision: float) -> float | None:
        """The lowest listed threshold whose auto-filed reports are right at least this often."""
        for c in self.cutoffs:
            if c.precision is not None and c.precision >= precision:
                return c.threshold
        return None


def _macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for g, p in zip(gold, predicted, strict=True):
        if g == p:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
    scores = []
    for code in set(gold):
        denom = 2 * tp[code] + fp[code] + fn[code]
        scores.append(2 * tp[code] / denom if denom else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def evaluate(
    model: Classifier, held_out: Sequence[Example], thresholds: Sequence[float] = THRESHOLDS
) -> Evaluation:
    ranked: list[list[Suggestion]] = model.suggest_many([e.text for e in held_out], k=3)
    gold = [e.code for e in held_out]
    top = [r[0].code for r in ranked]
    hit3 = [g in {s.code for s in r} for g, r in zip(gold, ranked, strict=True)]
    by_major: dict[str, list[bool]] = defaultdict(list)
    by_code: dict[str, list[bool]] = defaultdict(list)
    for g, p in zip(gold, top, strict=True):
        by_major[g[:2]].append(g == p)
        by_code[g].append(g == p)
    confusions = Counter((g, p) for g, p in zip(gold, top, strict=True) if g != p)
    cutoffs = []
    for t in thresholds:
        sure = [g == r[0].code for g, r in zip(gold, ranked, strict=True) if r[0].confidence >= t]
        cutoffs.append(
            Cutoff(
                t,
                len(sure) / len(gold) if gold else 0.0,
                sum(sure) / len(sure) if sure else None,
            )
        )
    n = len(gold)
    return Evaluation(
        n=n,
        top1=sum(g == p for g, p in zip(gold, top, strict=True)) / n if n else 0.0,
        top3=sum(hit3) / n if n else 0.0,
        macro_f1=_macro_f1(gold, top),
        per_major={m: sum(v) / len(v) for m, v in sorted(by_major.items())},
        per_category={c: (sum(v) / len(v), len(v)) for c, v in sorted(by_code.items())},
        confusions=[(g, p, k) for (g, p), k in confusions.most_common()],
        cutoffs=cutoffs,
    )

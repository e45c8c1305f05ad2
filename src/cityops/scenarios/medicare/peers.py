"""基金监管 statistical layer (水位分析): per-pharmacy metrics against their peers of the same
pharmacy type and district, with Tukey fences (Q3 + k·IQR; k = 1.5 "outlier", 3 "far out") and
the percentile rank within the group (reference §3.4). A pharmacy above the fence is a clue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cityops.scenarios.medicare.supervise import Hit, Transactions, month_label

METRICS = ("sales_per_day", "acct_share", "refund_share", "avg_ticket")
LEGAL_BASIS = "条例第40条 (虚构医药服务) — 统计异常, 需核查"


@dataclass(frozen=True)
class Fence:
    q1: float
    q3: float
    iqr: float
    fence: float
    far: float


def tukey(values: npt.NDArray[np.float64], k: float = 1.5, k_far: float = 3.0) -> Fence:
    """Quartiles by linear interpolation (numpy's default), fence Q3 + k·IQR."""
    q1, q3 = (float(x) for x in np.percentile(values, [25, 75]))
    iqr = q3 - q1
    return Fence(q1, q3, iqr, q3 + k * iqr, q3 + k_far * iqr)


def pharmacy_metrics(t: Transactions) -> dict[str, npt.NDArray[np.float64]]:
    """Metrics per institution index (NaN where it made no settlement)."""
    n = len(t.institutions.codes)
    _, first = np.unique(t.setl, return_index=True)
    inst_s = t.inst[first]
    setls = np.bincount(inst_s, minlength=n).astype(float)
    refunded = np.bincount(inst_s, weights=(~t.paid[first]).astype(float), minlength=n)
    paid = t.paid
    amount = np.bincount(t.inst[paid], weights=t.amount[paid].astype(float), minlength=n)
    acct = np.bincount(t.inst[paid], weights=t.acct_pay[paid].astype(float), minlength=n)
    days = np.unique(t.inst.astype(np.int64) * 1_000_000 + t.day) // 1_000_000
    active = np.bincount(days, minlength=n).astype(float)
    paid_setls = setls - refunded
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "sales_per_day": np.where(active > 0, amount / active, np.nan),
            "acct_share": np.where(amount > 0, acct / amount, np.nan),
            "refund_share": np.where(setls > 0, refunded / setls, np.nan),
            "avg_ticket": np.where(paid_setls > 0, amount / paid_setls, np.nan),
        }


def peer_outliers(
    t: Transactions, *, k: float = 1.5, k_far: float = 3.0, min_peers: int = 5
) -> list[Hit]:
    """Pharmacies above the fence of their (type, district) group, one hit per metric; beyond
    the far fence the severity is ``definite``. Groups smaller than ``min_peers`` are skipped."""
    if len(t) == 0:
        return []
    inst = t.institutions
    metrics = pharmacy_metrics(t)
    months = t.month
    window = month_label(int(months.min()))
    if months.max() != months.min():
        window += ".." + month_label(int(months.max()))
    groups: dict[tuple[str, str], list[int]] = {}
    for i in range(len(inst.codes)):
        if inst.level[i] == 0 and not np.isnan(metrics["sales_per_day"][i]):
            groups.setdefault((inst.kind[i], inst.district[i]), []).append(i)
    hits: list[Hit] = []
    for (kind, district), members in groups.items():
        if len(members) < min_peers:
            continue
        idx = np.array(members)
        for name in METRICS:
            values = metrics[name][idx]
            ok = ~np.isnan(values)
            if ok.sum() < min_peers:
                continue
            f = tukey(values[ok], k, k_far)
            for j in np.flatnonzero(ok & (values > f.fence)).tolist():
                v = float(values[j])
                hits.append(
                    Hit(
                        rule_id=f"STAT-{name}", rule_type="peer_outlier",
                        severity="definite" if v > f.far else "suspect", subject_kind="pharmacy",
                        subject=inst.codes[int(idx[j])], district=district, window=window,
                        evidence={
                            "metric": name, "value": round(v, 4), "peer_group": [kind, district],
                            "peers": int(ok.sum()), "q1": round(f.q1, 4), "q3": round(f.q3, 4),
                            "iqr": round(f.iqr, 4), "threshold": round(f.fence, 4),
                            "far_fence": round(f.far, 4), "k": k,
                            "percentile": round(float((values[ok] <= v).mean() * 100), 1),
                            "legal_basis": LEGAL_BASIS,
                        },
                    )
                )  # fmt: skip
    return hits

"""医药价格智治, pure: compare each pharmacy's price with the reference prices and its peers.

Rows are stock rows (one pharmacy, one code). Prices compare **per smallest unit** (fen per
tablet, capsule, bag) so packs of one 四同 product (``product_key``) compare; the reference
prices of a code (挂网价 ``listed``, 集采中选价 ``vbp``) are divided by that code's pack too.

Per (product, district) the peer median (pack-neutral where listed prices allow, see
``compare``); each row's deviation ratios
(price ÷ reference − 1) against the listed price, the VBP award where there is one, and the
median (only when the group has ``min_peers`` rows, so a lone pharmacy is not its own yardstick).
A row is flagged when a ratio is **strictly above** its tolerance (reference §5.2: the 15 % and
"VBP + tolerance" thresholds are unconfirmed, hence settings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]
I64 = NDArray[np.int64]

FLAG_LISTED, FLAG_VBP, FLAG_MEDIAN = 1, 2, 4
FLAG_NAMES = {FLAG_LISTED: "listed", FLAG_VBP: "vbp", FLAG_MEDIAN: "median"}


@dataclass(frozen=True, slots=True)
class Tolerances:
    """Ratios above which a price is flagged (0.15 = 15 % above the reference)."""

    listed: float = 0.15
    vbp: float = 0.15
    median: float = 0.30
    min_peers: int = 3


@dataclass(frozen=True, slots=True)
class Rows:
    """Stock rows as arrays; ``vbp_unit`` is NaN where the code has no VBP award."""

    stock_id: I64
    pharmacy: I64  # fixmedins id
    group: I64  # index of (product key, district)
    unit: F  # fen per smallest unit
    listed_unit: F  # NaN when the code has no listed price
    vbp_unit: F


@dataclass(frozen=True, slots=True)
class Compared:
    """Per row: the group median and peer count, the three ratios (NaN: not compared), the
    flag bits, and ``worst`` = the largest ratio compared (the row's deviation)."""

    median: F
    peers: I64
    r_listed: F
    r_vbp: F
    r_median: F
    flags: I64
    worst: F


def group_medians(group: I64, unit: F) -> tuple[F, I64]:
    """Median unit price and row count per group, given back per row (groups sorted once)."""
    n = len(group)
    if n == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    order = np.lexsort((unit, group))
    g, u = group[order], unit[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, n])
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    med_per_group = (u[lo] + u[hi]) / 2.0
    median, peers = np.empty(n), np.empty(n, dtype=np.int64)
    median[order] = np.repeat(med_per_group, counts)
    peers[order] = np.repeat(counts, counts)
    return median, peers


def _ratio(price: F, ref: F) -> F:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = price / ref - 1.0
    out[~(ref > 0)] = np.nan
    return out


def compare(rows: Rows, tol: Tolerances) -> Compared:
    """Deviation ratios and flags for every row (see the module).

    Peers compare pack-neutrally where they can: in a group whose every row has a listed price,
    each row's price ÷ its own code's listed price is compared with the group's median of that
    markup (a bigger pack is listed cheaper per unit, 药品差比价规则, and is not an outlier for
    it); ``median`` is then the peers' markup applied to this row's listed unit price. Other
    groups compare plain unit prices."""
    has = rows.listed_unit > 0
    n_groups = int(rows.group.max(initial=-1)) + 1
    missing = np.bincount(rows.group, weights=(~has).astype(float), minlength=n_groups)
    basis = np.where(missing[rows.group] == 0, rows.listed_unit, 1.0)
    index = rows.unit / basis
    med_index, peers = group_medians(rows.group, index)
    median = med_index * basis
    r_listed = _ratio(rows.unit, rows.listed_unit)
    r_vbp = _ratio(rows.unit, rows.vbp_unit)
    r_median = _ratio(index, med_index)
    r_median[peers < tol.min_peers] = np.nan
    flags = (
        np.where(r_listed > tol.listed, FLAG_LISTED, 0)
        | np.where(r_vbp > tol.vbp, FLAG_VBP, 0)
        | np.where(r_median > tol.median, FLAG_MEDIAN, 0)
    ).astype(np.int64)
    stacked = np.vstack([r_listed, r_vbp, r_median])
    compared = ~np.isnan(stacked)
    worst = np.where(compared, stacked, -np.inf).max(axis=0)
    worst[~compared.any(axis=0)] = np.nan
    return Compared(median, peers, r_listed, r_vbp, r_median, flags, worst)


def flag_names(bits: int) -> list[str]:
    """``5`` → ``["listed", "median"]``."""
    return [name for bit, name in FLAG_NAMES.items() if bits & bit]


@dataclass(frozen=True, slots=True)
class Rank:
    """One pharmacy's (or product's) standing: rows compared, rows flagged, mean and max
    deviation over its rows (NaN ratios left out)."""

    key: int
    rows: int
    flagged: int
    mean_worst: float
    max_worst: float


def rank(keys: I64, result: Compared, *, limit: int) -> list[Rank]:
    """Keys (pharmacies or products) by flagged rows, then mean deviation, worst first."""
    if len(keys) == 0:
        return []
    uniq, inverse = np.unique(keys, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(uniq))
    flagged = np.bincount(inverse, weights=(result.flags > 0).astype(float), minlength=len(uniq))
    have = ~np.isnan(result.worst)
    sums = np.bincount(inverse[have], weights=result.worst[have], minlength=len(uniq))
    n_have = np.bincount(inverse[have], minlength=len(uniq))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = sums / n_have
    worst = np.full(len(uniq), -np.inf)
    np.maximum.at(worst, inverse[have], result.worst[have])
    worst[n_have == 0] = np.nan
    sort_mean = np.where(np.isnan(mean), -np.inf, mean)
    order = np.lexsort((-sort_mean, -flagged))[:limit]
    return [
        Rank(int(uniq[i]), int(counts[i]), int(flagged[i]), float(mean[i]), float(worst[i]))
        for i in order
    ]


def next_streak(
    *, flagged: bool, last_flag_day: int | None, previous_check_day: int | None, today: int,
    streak: int,
) -> int:  # fmt: skip
    """Consecutive daily checks a row has been flagged in, after today's check (days as
    ordinals). A re-run on the same day changes nothing; a day without a check does not break a
    streak (consecutive *checks*), a check that did not flag the row does."""
    if not flagged:
        return 0
    if last_flag_day == today:
        return streak
    if last_flag_day is not None and last_flag_day == previous_check_day:
        return streak + 1
    return 1

"""Pure ranking of offers (pharmacies holding one product) around a point, with numpy.

Candidates are parallel arrays, one row per stock row of the product's codes. A query keeps the
rows in stock, open now (local weekday and minute) and within the search radius, takes the
``limit`` nearest, then orders those by the wanted key:

* ``price``: unit price (fen per tablet/capsule/bag, so packs of 12 and 24 compare), then distance;
* ``distance``: great-circle metres;
* ``delivery``: estimated minutes = preparation + distance ÷ rider speed, only where the pharmacy
  delivers that far (its ``delivery_radius_m``); pick-up-only offers sort last.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
_EARTH_M = 6_371_008.8
_DAY = 1440


class SortKey(StrEnum):
    price = "price"
    distance = "distance"
    delivery = "delivery"


@dataclass(frozen=True, slots=True)
class Pharmacies:
    """Every active pharmacy as arrays, row ``i`` = the pharmacy with ``ids[i]``."""

    ids: I64
    lat: F64
    lng: F64
    opens: I64  # (n, 7) minute of local time, Monday first; -1 = closed that day
    closes: I64  # (n, 7) may exceed 1440: open past midnight
    radius_m: F64

    @staticmethod
    def from_rows(rows: list[tuple[int, float, float, list[Any], int]]) -> Pharmacies:
        n = len(rows)
        opens = np.full((n, 7), -1, dtype=np.int64)
        closes = np.full((n, 7), -1, dtype=np.int64)
        for i, (_, _, _, hours, _) in enumerate(rows):
            for day, span in enumerate(hours[:7]):
                if span:
                    opens[i, day], closes[i, day] = int(span[0]), int(span[1])
        return Pharmacies(
            ids=np.array([r[0] for r in rows], dtype=np.int64),
            lat=np.array([r[1] for r in rows], dtype=np.float64),
            lng=np.array([r[2] for r in rows], dtype=np.float64),
            opens=opens,
            closes=closes,
            radius_m=np.array([r[4] for r in rows], dtype=np.float64),
        )


@dataclass(slots=True)
class Candidates:
    """The stock rows of one product; ``row`` indexes ``Pharmacies`` arrays (-1: the pharmacy is
    not active). ``qty`` is only as last seen: the caller re-reads the stock of what it shows."""

    stock_id: I64
    fixmedins_id: I64
    row: I64
    drug_id: I64
    price: I64  # fen per pack
    pack_qty: I64
    qty: I64  # packs in stock as last seen


@dataclass(frozen=True, slots=True)
class Offer:
    index: int  # into Candidates
    distance_m: float
    unit_price: float
    eta_minutes: float | None


def is_open(ph: Pharmacies, rows: I64, weekday: int, minute: int) -> NDArray[np.bool_]:
    """Open at ``minute`` of ``weekday`` (0 = Monday), counting yesterday's past-midnight hours."""
    today_o, today_c = ph.opens[rows, weekday], ph.closes[rows, weekday]
    prev_c = ph.closes[rows, (weekday - 1) % 7]
    today: NDArray[np.bool_] = (today_o >= 0) & (today_o <= minute) & (minute < today_c)
    spill: NDArray[np.bool_] = minute + _DAY < prev_c
    return today | spill


def distances_m(lat: float, lng: float, lats: F64, lngs: F64) -> F64:
    """Haversine distance from one point to many."""
    p1, p2 = np.radians(lat), np.radians(lats)
    dp, dl = p2 - p1, np.radians(lngs - lng)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Query:
    lat: float
    lng: float
    weekday: int
    minute: int
    radius_m: float
    prep_minutes: float
    m_per_min: float


def nearest(ph: Pharmacies, cand: Candidates, q: Query) -> tuple[I64, F64]:
    """Candidates at active pharmacies open now within the radius, nearest first, with their
    distances. Stock is not judged here (the index's counts may be stale)."""
    idx = np.flatnonzero(cand.row >= 0)
    rows = cand.row[idx]
    idx = idx[is_open(ph, rows, q.weekday, q.minute)]
    rows = cand.row
    dist = distances_m(q.lat, q.lng, ph.lat[rows[idx]], ph.lng[rows[idx]])
    near = dist <= q.radius_m
    idx, dist = idx[near], dist[near]
    order = np.argsort(dist, kind="stable")
    return idx[order], dist[order]


def offer(ph: Pharmacies, cand: Candidates, index: int, dist: float, q: Query) -> Offer:
    radius = float(ph.radius_m[cand.row[index]])
    eta = q.prep_minutes + dist / q.m_per_min if radius > 0 and dist <= radius else None
    unit = float(cand.price[index]) / float(cand.pack_qty[index])
    return Offer(int(index), float(dist), unit, eta)


def order_by(offers: list[Offer], key: SortKey) -> list[Offer]:
    """The final order of the nearest offers (ties broken by distance, then stock row)."""
    if key is SortKey.price:
        return sorted(offers, key=lambda o: (o.unit_price, o.distance_m, o.index))
    if key is SortKey.delivery:
        return sorted(
            offers,
            key=lambda o: (o.eta_minutes is None, o.eta_minutes or 0.0, o.unit_price, o.index),
        )
    return sorted(offers, key=lambda o: (o.distance_m, o.index))

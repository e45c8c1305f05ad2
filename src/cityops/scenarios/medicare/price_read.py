"""医药价格智治 reads: load the stock rows with their references, then outliers, ranking and
the price map (pricegov.py does the arithmetic). Computed from the current prices on every
call, so a price set a moment ago shows at once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.errors import NotFound
from cityops.scenarios.medicare import pricegov
from cityops.scenarios.medicare.models import (
    Drug,
    Fixmedins,
    FixmedinsType,
    PriceChange,
    RefPrice,
    Stock,
)
from cityops.settings import Settings


@dataclass(frozen=True, slots=True)
class Market:
    """Stock rows (parallel lists) and their comparison."""

    rows: pricegov.Rows
    result: pricegov.Compared
    pharmacy: list[tuple[str, str, str, float, float]]  # per row: code, name, admdvs, lat, lng
    drug: list[tuple[str, str, str, int]]  # per row: code, name, product key, pric
    product_index: np.ndarray  # per row: index into products
    products: list[str]


def tolerances(settings: Settings) -> pricegov.Tolerances:
    return pricegov.Tolerances(
        listed=settings.medicare_price_tol_listed,
        vbp=settings.medicare_price_tol_vbp,
        median=settings.medicare_price_tol_median,
        min_peers=settings.medicare_price_min_peers,
    )


def product_key_of(session: Session, code: str) -> str:
    key = session.scalar(select(Drug.product_key).where(Drug.hilist_code == code.strip()))
    if key is None:
        raise NotFound(f"no drug {code!r} in the catalogue", code="unknown_drug_code")
    return key


def load(
    *, session: Session, settings: Settings, district: str | None = None,
    product: str | None = None,
) -> Market:  # fmt: skip
    """Active pharmacies' stock rows (optionally one district, one 四同 product by any of its
    codes), compared per (product, district)."""
    q = (
        select(
            Stock.id, Stock.fixmedins_id, Stock.pric, Drug.pack_qty, Drug.product_key,
            Drug.hilist_code, Drug.hilist_name, Fixmedins.fixmedins_code,
            Fixmedins.fixmedins_name, Fixmedins.admdvs, Fixmedins.lat, Fixmedins.lng,
            RefPrice.listed_price, RefPrice.vbp_price,
        )
        .join(Drug, Drug.id == Stock.drug_id)
        .join(Fixmedins, Fixmedins.id == Stock.fixmedins_id)
        .outerjoin(RefPrice, RefPrice.hilist_code == Drug.hilist_code)
        .where(Fixmedins.active.is_(True), Fixmedins.fixmedins_type == FixmedinsType.pharmacy)
    )  # fmt: skip
    if district:
        q = q.where(Fixmedins.admdvs == district)
    if product:
        q = q.where(Drug.product_key == product_key_of(session, product))
    data = session.execute(q.order_by(Stock.id)).all()
    pack = np.array([r.pack_qty for r in data], dtype=float)
    groups = [f"{r.product_key}\x00{r.admdvs}" for r in data]
    _, group = np.unique(np.array(groups, dtype=object), return_inverse=True)
    products, product_index = np.unique(
        np.array([r.product_key for r in data], dtype=object), return_inverse=True
    )

    def per_unit(values: list[int | None]) -> np.ndarray:
        arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
        return arr / pack if len(arr) else arr

    rows = pricegov.Rows(
        stock_id=np.array([r.id for r in data], dtype=np.int64),
        pharmacy=np.array([r.fixmedins_id for r in data], dtype=np.int64),
        group=group.astype(np.int64),
        unit=per_unit([r.pric for r in data]),
        listed_unit=per_unit([r.listed_price for r in data]),
        vbp_unit=per_unit([r.vbp_price for r in data]),
    )
    return Market(
        rows=rows,
        result=pricegov.compare(rows, tolerances(settings)),
        pharmacy=[(r.fixmedins_code, r.fixmedins_name, r.admdvs, r.lat, r.lng) for r in data],
        drug=[(r.hilist_code, r.hilist_name, r.product_key, r.pric) for r in data],
        product_index=product_index.astype(np.int64),
        products=[str(p) for p in products],
    )


def num(x: float) -> float | None:
    """A ratio or price for JSON: NaN (not compared) → null, 4 decimals."""
    return None if math.isnan(x) or math.isinf(x) else round(float(x), 4)


def _row(m: Market, i: int) -> dict[str, Any]:
    code, name, admdvs, lat, lng = m.pharmacy[i]
    hilist_code, hilist_name, key, pric = m.drug[i]
    r, c = m.rows, m.result
    return {
        "stock_id": int(r.stock_id[i]), "fixmedins_code": code, "fixmedins_name": name,
        "admdvs": admdvs, "lat": lat, "lng": lng, "hilist_code": hilist_code,
        "hilist_name": hilist_name, "product_key": key, "pric": pric,
        "unit_price": num(r.unit[i]), "listed_unit": num(r.listed_unit[i]),
        "vbp_unit": num(r.vbp_unit[i]), "median_unit": num(c.median[i]), "peers": int(c.peers[i]),
        "r_listed": num(c.r_listed[i]), "r_vbp": num(c.r_vbp[i]), "r_median": num(c.r_median[i]),
        "deviation": num(c.worst[i]), "flags": pricegov.flag_names(int(c.flags[i])),
    }  # fmt: skip


def outliers(*, market: Market, min_ratio: float | None, page: int, size: int) -> dict[str, Any]:
    """Flagged rows, largest deviation first (ties: stock id); ``min_ratio`` keeps those whose
    deviation is at least that."""
    c = market.result
    keep = c.flags > 0
    if min_ratio is not None:
        keep &= np.nan_to_num(c.worst, nan=-np.inf) >= min_ratio
    idx = np.flatnonzero(keep)
    idx = idx[np.lexsort((market.rows.stock_id[idx], -c.worst[idx]))]
    start = (page - 1) * size
    return {
        "total": len(idx),
        "rows": len(market.rows.stock_id),
        "page": page,
        "size": size,
        "items": [_row(market, int(i)) for i in idx[start : start + size]],
    }


def ranking(*, market: Market, by: str, limit: int) -> dict[str, Any]:
    """Pharmacies (``by=pharmacy``) or 四同 products (``by=product``), most flagged first."""
    keys = market.rows.pharmacy if by == "pharmacy" else market.product_index
    ranks = pricegov.rank(keys, market.result, limit=limit)
    first = {int(k): i for i, k in reversed(list(enumerate(keys.tolist())))}
    items = []
    for rk in ranks:
        i = first[rk.key]
        if by == "pharmacy":
            code, name, admdvs, _, _ = market.pharmacy[i]
            label: dict[str, Any] = {"fixmedins_code": code, "name": name, "admdvs": admdvs}
        else:
            label = {"product_key": market.products[rk.key], "name": market.drug[i][1]}
        items.append({
            **label, "rows": rk.rows, "flagged": rk.flagged,
            "mean_deviation": num(rk.mean_worst), "max_deviation": num(rk.max_worst),
        })  # fmt: skip
    return {"by": by, "items": items}


def price_map(*, market: Market) -> dict[str, Any]:
    """GeoJSON points, one per pharmacy: rows compared, flagged, mean and max deviation."""
    ranks = pricegov.rank(market.rows.pharmacy, market.result, limit=len(market.rows.pharmacy))
    first = {int(k): i for i, k in reversed(list(enumerate(market.rows.pharmacy.tolist())))}
    features = []
    for rk in ranks:
        code, name, admdvs, lat, lng = market.pharmacy[first[rk.key]]
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lng, lat]},
            "properties": {
                "fixmedins_code": code, "name": name, "admdvs": admdvs, "rows": rk.rows,
                "flagged": rk.flagged, "mean_deviation": num(rk.mean_worst),
                "deviation": num(rk.max_worst),
            },
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def history(*, session: Session, stock_id: int) -> dict[str, Any]:
    """A stock row's price changes, oldest first, with its current price."""
    stock = session.get(Stock, stock_id)
    if stock is None:
        raise NotFound(f"no stock row {stock_id}", code="unknown_stock")
    changes = session.scalars(
        select(PriceChange).where(PriceChange.stock_id == stock_id)
        .order_by(PriceChange.changed_at, PriceChange.id)
    ).all()  # fmt: skip
    return {
        "stock_id": stock_id,
        "pric": stock.pric,
        "changes": [
            {"old_pric": c.old_pric, "new_pric": c.new_pric, "reason": c.reason,
             "actor": c.actor, "changed_at": c.changed_at.isoformat()}
            for c in changes
        ],
    }  # fmt: skip

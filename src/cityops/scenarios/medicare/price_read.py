"""医药价格智治 reads: load the stock rows with their references, then outliers, ranking and
the price map (pricegov.py does the arithmetic). Computed from the current prices on every
call, so a price set a moment ago shows at once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain
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
    """Stock rows as arrays, their comparison, and the pharmacies and drugs by id."""

    rows: pricegov.Rows
    result: pricegov.Compared
    pric: np.ndarray  # per row: price per pack, fen
    drug_id: np.ndarray
    shops: dict[int, tuple[str, str, str, float, float]]  # code, name, admdvs, lat, lng
    drugs: dict[int, tuple[str, str, str]]  # code, name, product key
    product_index: np.ndarray  # per row: index into products
    products: list[str]

    def shop(self, i: int) -> tuple[str, str, str, float, float]:
        return self.shops[int(self.rows.pharmacy[i])]

    def drug(self, i: int) -> tuple[str, str, str]:
        return self.drugs[int(self.drug_id[i])]


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
    codes), compared per (product, district). Pharmacies and the catalogue are read whole (a
    few thousand rows), the stock as four integer columns, and joined in numpy."""
    shop_q = select(
        Fixmedins.id,
        Fixmedins.fixmedins_code,
        Fixmedins.fixmedins_name,
        Fixmedins.admdvs,
        Fixmedins.lat,
        Fixmedins.lng,
    ).where(Fixmedins.active.is_(True), Fixmedins.fixmedins_type == FixmedinsType.pharmacy)
    if district:
        shop_q = shop_q.where(Fixmedins.admdvs == district)
    shops = {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in session.execute(shop_q)}
    drug_q = select(
        Drug.id, Drug.hilist_code, Drug.hilist_name, Drug.product_key, Drug.pack_qty,
        RefPrice.listed_price, RefPrice.vbp_price,
    ).outerjoin(RefPrice, RefPrice.hilist_code == Drug.hilist_code)  # fmt: skip
    if product:
        drug_q = drug_q.where(Drug.product_key == product_key_of(session, product))
    drug_rows = session.execute(drug_q).all()
    drugs = {r[0]: (r[1], r[2], r[3]) for r in drug_rows}
    stock_q = select(Stock.id, Stock.fixmedins_id, Stock.drug_id, Stock.pric).order_by(Stock.id)
    if product:
        stock_q = stock_q.where(Stock.drug_id.in_(list(drugs)))
    flat = chain.from_iterable(session.execute(stock_q))  # fromiter: ~10× np.array(rows)
    raw = np.fromiter(flat, dtype=np.int64).reshape(-1, 4)
    raw = raw[np.isin(raw[:, 1], np.fromiter(shops, dtype=np.int64, count=len(shops)))]
    raw = raw[np.isin(raw[:, 2], np.fromiter(drugs, dtype=np.int64, count=len(drugs)))]
    # per drug (dense index): pack, listed, vbp, product index
    ids = np.array([r[0] for r in drug_rows], dtype=np.int64)
    order = np.argsort(ids)
    at = order[np.searchsorted(ids[order], raw[:, 2])] if len(ids) else np.zeros(0, np.int64)
    pack = np.array([r[4] for r in drug_rows], dtype=float)[at]
    listed = np.array([np.nan if r[5] is None else r[5] for r in drug_rows], dtype=float)[at]
    vbp = np.array([np.nan if r[6] is None else r[6] for r in drug_rows], dtype=float)[at]
    products, per_drug = np.unique(np.array([r[3] for r in drug_rows], dtype=object),
                                   return_inverse=True)  # fmt: skip
    product_index = per_drug.astype(np.int64)[at] if len(at) else np.zeros(0, np.int64)
    shop_ids = np.fromiter(shops, dtype=np.int64, count=len(shops))
    _, shop_district = np.unique(np.array([v[2] for v in shops.values()], dtype=object),
                                 return_inverse=True)  # fmt: skip
    s_order = np.argsort(shop_ids)
    district_of = shop_district.astype(np.int64)[
        s_order[np.searchsorted(shop_ids[s_order], raw[:, 1])]
    ] if len(shop_ids) else np.zeros(0, np.int64)  # fmt: skip
    group = np.unique(
        product_index * (int(district_of.max(initial=0)) + 1) + district_of, return_inverse=True
    )[1].astype(np.int64)
    pric = raw[:, 3].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = pricegov.Rows(
            stock_id=raw[:, 0].copy(), pharmacy=raw[:, 1].copy(), group=group,
            unit=pric / pack, listed_unit=listed / pack, vbp_unit=vbp / pack,
        )  # fmt: skip
    return Market(
        rows=rows, result=pricegov.compare(rows, tolerances(settings)), pric=raw[:, 3].copy(),
        drug_id=raw[:, 2].copy(), shops=shops, drugs=drugs, product_index=product_index,
        products=[str(p) for p in products],
    )  # fmt: skip


def num(x: float) -> float | None:
    """A ratio or price for JSON: NaN (not compared) → null, 4 decimals."""
    return None if math.isnan(x) or math.isinf(x) else round(float(x), 4)


def _row(m: Market, i: int) -> dict[str, Any]:
    code, name, admdvs, lat, lng = m.shop(i)
    hilist_code, hilist_name, key = m.drug(i)
    pric = int(m.pric[i])
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
            code, name, admdvs, _, _ = market.shop(i)
            label: dict[str, Any] = {"fixmedins_code": code, "name": name, "admdvs": admdvs}
        else:
            label = {"product_key": market.products[rk.key], "name": market.drug(i)[1]}
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
        code, name, admdvs, lat, lng = market.shop(first[rk.key])
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

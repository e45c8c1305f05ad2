"""Find a medicine (name, pinyin initials or code) and the nearby offers of the same product.

The hot query ("nearest 20 open pharmacies with this product in stock") runs on an in-memory
index (``OfferIndex``, one per process, in ``ctx.extras``): every active pharmacy as arrays, and
per product (四同 key) the stock rows as arrays, loaded on first use and reloaded after
``medicare_index_ttl_s``. The index only ranks: the stock of the offers it returns is read again
from the database in the same request (one primary-key lookup), so an offer sold out a moment
ago is never shown; a restock or a price change shows within the TTL.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cityops.errors import NotFound, ValidationFailed
from cityops.scenarios.medicare import codes
from cityops.scenarios.medicare.catalogue import pinyin_initials
from cityops.scenarios.medicare.models import Drug, Fixmedins, FixmedinsType, RefPrice, Stock
from cityops.scenarios.medicare.offers import (
    Candidates,
    Pharmacies,
    Query,
    SortKey,
    nearest,
    offer,
    order_by,
)
from cityops.scenarios.medicare.schemas import DrugList, DrugRead, OfferList, OfferRead
from cityops.settings import Settings


def drug_by_code(session: Session, raw: str) -> Drug:
    """The catalogue entry for a code; a malformed code is a 422, an unknown one a 404."""
    try:
        code = codes.parse(raw).code
    except codes.BadDrugCode as exc:
        raise ValidationFailed(str(exc), code=f"drug_code_{exc.reason}") from exc
    drug = session.scalar(select(Drug).where(Drug.hilist_code == code))
    if drug is None:
        raise NotFound(f"no drug with code {code} in the catalogue", code="unknown_drug_code")
    return drug


def find_drugs(*, session: Session, q: str, limit: int = 20) -> DrugList:
    """Search by code (prefix; a full-length code must be valid), pinyin initials or name."""
    text = q.strip()
    if not text:
        raise ValidationFailed("say what to look for", code="empty_query")
    if codes.looks_like_code(text):
        norm = codes.normalise(text)
        if len(norm) >= codes.PATENT_LEN:
            found = [drug_by_code(session, norm)]
        else:
            found = list(
                session.scalars(
                    select(Drug).where(Drug.hilist_code.startswith(norm)).order_by(Drug.id)
                    .limit(limit)
                )
            )  # fmt: skip
        how = "code"
    elif text.isascii() and text.isalpha():
        found = list(
            session.scalars(
                select(Drug).where(Drug.pinyin.startswith(text.upper())).order_by(Drug.id)
                .limit(limit)
            )
        )  # fmt: skip
        how = "pinyin"
    else:
        initials = pinyin_initials(text)
        found = list(
            session.scalars(
                select(Drug)
                .where(or_(Drug.hilist_name.contains(text), Drug.pinyin == initials))
                .order_by(Drug.hilist_name, Drug.id)
                .limit(limit)
            )
        )
        how = "name"
    refs = {
        r.hilist_code: r
        for r in session.scalars(
            select(RefPrice).where(RefPrice.hilist_code.in_([d.hilist_code for d in found]))
        )
    }
    items = []
    for d in found:
        item = DrugRead.model_validate(d)
        ref = refs.get(d.hilist_code)
        if ref is not None:
            item.listed_price, item.vbp_price = ref.listed_price, ref.vbp_price
        items.append(item)
    return DrugList(q=q, matched_by=how, items=items)


class OfferIndex:
    """Per-process arrays for the offer query; see the module docstring for freshness."""

    def __init__(self, ttl_s: float = 60.0) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._pharmacies: tuple[float, Pharmacies, dict[int, int]] | None = None
        self._products: dict[str, tuple[float, Candidates]] = {}

    def pharmacies(self, session: Session) -> tuple[Pharmacies, dict[int, int]]:
        with self._lock:
            cached = self._pharmacies
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1], cached[2]
        rows = session.execute(
            select(
                Fixmedins.id, Fixmedins.lat, Fixmedins.lng, Fixmedins.opening_hours,
                Fixmedins.delivery_radius_m,
            ).where(Fixmedins.active, Fixmedins.fixmedins_type == FixmedinsType.pharmacy)
            .order_by(Fixmedins.id)
        ).all()  # fmt: skip
        ph = Pharmacies.from_rows([tuple(r) for r in rows])
        where = {int(pid): i for i, pid in enumerate(ph.ids.tolist())}
        with self._lock:
            self._pharmacies = (time.monotonic(), ph, where)
            self._products.clear()  # rows index the old arrays
        return ph, where

    def candidates(self, session: Session, product_key: str, where: dict[int, int]) -> Candidates:
        with self._lock:
            cached = self._products.get(product_key)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        rows = session.execute(
            select(
                Stock.id, Stock.fixmedins_id, Stock.drug_id, Stock.pric, Drug.pack_qty, Stock.qty
            )
            .join(Drug, Drug.id == Stock.drug_id)
            .where(Drug.product_key == product_key)
        ).all()  # fmt: skip
        rows = [r for r in rows if r[1] in where]
        arr = np.array([tuple(r) for r in rows], dtype=np.int64).reshape(-1, 6)
        cand = Candidates(
            stock_id=arr[:, 0].copy(),
            row=np.array([where[int(f)] for f in arr[:, 1].tolist()], dtype=np.int64),
            drug_id=arr[:, 2].copy(),
            price=arr[:, 3].copy(),
            pack_qty=arr[:, 4].copy(),
            qty=arr[:, 5].copy(),
        )
        with self._lock:
            self._products[product_key] = (time.monotonic(), cand)
        return cand

    def forget(self, product_keys: list[str] | None = None) -> None:
        """Drop products (all when None) so the next query reloads them."""
        with self._lock:
            if product_keys is None:
                self._products.clear()
                self._pharmacies = None
            else:
                for key in product_keys:
                    self._products.pop(key, None)


def find_offers(
    *,
    session: Session,
    index: OfferIndex,
    settings: Settings,
    product: str,
    lat: float,
    lng: float,
    sort: SortKey,
    limit: int,
    now: datetime,
) -> OfferList:
    """The ``limit`` nearest open pharmacies with the product in stock, ordered by ``sort``."""
    drug = drug_by_code(session, product)
    local = now.astimezone(ZoneInfo(settings.time_zone))
    query = Query(
        lat=lat, lng=lng, weekday=local.weekday(), minute=local.hour * 60 + local.minute,
        radius_m=settings.medicare_search_radius_m, prep_minutes=settings.medicare_prep_minutes,
        m_per_min=settings.medicare_delivery_m_per_min,
    )  # fmt: skip
    ph, where = index.pharmacies(session)
    cand = index.candidates(session, drug.product_key, where)
    order, dist = nearest(ph, cand, query)
    chosen: list[tuple[int, float, int, int]] = []  # index, distance, fresh qty, fresh price
    start = 0
    while len(chosen) < limit and start < order.size:
        chunk = order[start : start + 2 * limit]
        chunk_d = dist[start : start + 2 * limit]
        start += chunk.size
        ids = [int(cand.stock_id[i]) for i in chunk]
        fresh = {
            int(r.id): (int(r.qty), int(r.pric))
            for r in session.execute(
                select(Stock.id, Stock.qty, Stock.pric).where(Stock.id.in_(ids))
            )
        }
        for i, d in zip(chunk.tolist(), chunk_d.tolist(), strict=True):
            qty, pric = fresh.get(int(cand.stock_id[i]), (0, 0))
            cand.qty[i], cand.price[i] = qty, pric or cand.price[i]
            if qty > 0 and len(chosen) < limit:
                chosen.append((i, d, qty, pric))
    ranked = order_by([offer(ph, cand, i, d, query) for i, d, _, _ in chosen], sort)
    by_index = {i: (qty, pric) for i, _, qty, pric in chosen}
    fix_ids = [int(ph.ids[cand.row[o.index]]) for o in ranked]
    drug_ids = [int(cand.drug_id[o.index]) for o in ranked]
    fixes = {f.id: f for f in session.scalars(select(Fixmedins).where(Fixmedins.id.in_(fix_ids)))}
    drugs = {d.id: d for d in session.scalars(select(Drug).where(Drug.id.in_(drug_ids)))}
    items = []
    for o, fid, did in zip(ranked, fix_ids, drug_ids, strict=True):
        f, d = fixes[fid], drugs[did]
        qty, pric = by_index[o.index]
        items.append(
            OfferRead(
                fixmedins_code=f.fixmedins_code, fixmedins_name=f.fixmedins_name,
                hilist_code=d.hilist_code, pack_qty=d.pack_qty, pric=pric,
                unit_price=round(pric / d.pack_qty, 4), qty=qty,
                distance_m=round(o.distance_m, 1),
                eta_minutes=None if o.eta_minutes is None else round(o.eta_minutes, 1),
                lat=f.lat, lng=f.lng,
            )
        )  # fmt: skip
    return OfferList(product_key=drug.product_key, sort=sort.value, items=items)

"""Find a medicine (name, pinyin initials or code) and the nearby offers of the same product.

The hot query ("nearest 20 open pharmacies with this product in stock") ranks on the in-memory
``offer_index.OfferIndex`` and then reads the stock of the offers it returns again (one
primary-key lookup of ~40 rows): that read is the only database work of a warm query.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cityops.errors import NotFound, ValidationFailed
from cityops.scenarios.medicare import codes
from cityops.scenarios.medicare.catalogue import pinyin_initials
from cityops.scenarios.medicare.models import Drug, RefPrice, Stock
from cityops.scenarios.medicare.offer_index import OfferIndex
from cityops.scenarios.medicare.offers import (
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
    try:
        code = codes.parse(product).code
    except codes.BadDrugCode as exc:
        raise ValidationFailed(str(exc), code=f"drug_code_{exc.reason}") from exc
    entry = index.catalogue(session).by_code.get(code)
    product_key = entry.product_key if entry else drug_by_code(session, code).product_key
    local = now.astimezone(ZoneInfo(settings.time_zone))
    query = Query(
        lat=lat, lng=lng, weekday=local.weekday(), minute=local.hour * 60 + local.minute,
        radius_m=settings.medicare_search_radius_m, prep_minutes=settings.medicare_prep_minutes,
        m_per_min=settings.medicare_delivery_m_per_min,
    )  # fmt: skip
    table = index.pharmacies(session)
    ph = table.arrays
    cand = index.candidates(session, product_key)
    order, dist = nearest(ph, cand, query)
    chosen: list[tuple[int, float, int]] = []  # candidate index, distance, fresh qty
    start = 0
    while len(chosen) < limit and start < order.size:
        chunk = order[start : start + 2 * limit].tolist()
        chunk_d = dist[start : start + 2 * limit].tolist()
        start += len(chunk)
        fresh = {
            int(i): (int(q), int(p))
            for i, q, p in session.execute(
                select(Stock.id, Stock.qty, Stock.pric).where(
                    Stock.id.in_([int(cand.stock_id[i]) for i in chunk])
                )
            )
        }
        for i, d in zip(chunk, chunk_d, strict=True):
            qty, pric = fresh.get(int(cand.stock_id[i]), (0, int(cand.price[i])))
            cand.qty[i], cand.price[i] = qty, pric
            if qty > 0 and len(chosen) < limit:
                chosen.append((i, d, qty))
    ranked = order_by([offer(ph, cand, i, d, query) for i, d, _ in chosen], sort)
    fresh_qty = {i: qty for i, _, qty in chosen}
    by_id = index.catalogue(session).by_id
    items = []
    for o in ranked:
        row = int(cand.row[o.index])
        drug = by_id[int(cand.drug_id[o.index])]
        pric = int(cand.price[o.index])
        items.append(
            OfferRead(
                fixmedins_code=table.codes[row], fixmedins_name=table.names[row],
                hilist_code=drug.code, pack_qty=drug.pack_qty, pric=pric,
                unit_price=round(pric / drug.pack_qty, 4), qty=fresh_qty[o.index],
                distance_m=round(o.distance_m, 1),
                eta_minutes=None if o.eta_minutes is None else round(o.eta_minutes, 1),
                lat=float(ph.lat[row]), lng=float(ph.lng[row]),
            )
        )  # fmt: skip
    return OfferList(product_key=product_key, sort=sort.value, items=items)

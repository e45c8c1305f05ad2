"""The per-process index behind the offer query (one per app, in ``ctx.extras``).

Built on first use with one scan of the stock table (≈1 s for 1.5 M rows): per product (四同
key) the stock rows as arrays, plus every active pharmacy as arrays (place, hours, delivery
radius, code, name) and the catalogue (code → id, key, pack). After ``ttl_s`` the next query
refreshes it cheaply: pharmacies and catalogue reloaded, stock rows newer than the last seen id
appended. The index only *ranks* by place and opening hours; ``search.find_offers`` reads the
stock and price of the offers it shows again from the database, so a sale, a restock or a new
price counts at once, and only a new stock row or pharmacy waits for the refresh (or ``forget``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.scenarios.medicare.models import Drug, Fixmedins, FixmedinsType
from cityops.scenarios.medicare.offers import Candidates, Pharmacies

I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    drug_id: int
    code: str
    product_key: str
    pack_qty: int


@dataclass(frozen=True, slots=True)
class Catalogue:
    by_code: dict[str, CatalogueEntry]
    by_id: dict[int, CatalogueEntry]
    pack_of_id: I64  # drug id → pack quantity (0: unknown)


@dataclass(frozen=True, slots=True)
class PharmacyTable:
    arrays: Pharmacies
    row_of_id: I64  # fixmedins id → row, -1 if not an active pharmacy
    codes: list[str]
    names: list[str]

    def rows(self, fixmedins_ids: I64) -> I64:
        out = np.full(fixmedins_ids.size, -1, dtype=np.int64)
        inside = fixmedins_ids < self.row_of_id.size
        out[inside] = self.row_of_id[fixmedins_ids[inside]]
        return out


def _load_catalogue(session: Session) -> Catalogue:
    rows = session.execute(select(Drug.id, Drug.hilist_code, Drug.product_key, Drug.pack_qty))
    entries = [CatalogueEntry(int(i), c, k, int(p)) for i, c, k, p in rows]
    pack = np.zeros(max((e.drug_id for e in entries), default=0) + 1, dtype=np.int64)
    for e in entries:
        pack[e.drug_id] = e.pack_qty
    return Catalogue({e.code: e for e in entries}, {e.drug_id: e for e in entries}, pack)


def _load_pharmacies(session: Session) -> PharmacyTable:
    rows = session.execute(
        select(
            Fixmedins.id, Fixmedins.lat, Fixmedins.lng, Fixmedins.opening_hours,
            Fixmedins.delivery_radius_m, Fixmedins.fixmedins_code, Fixmedins.fixmedins_name,
        ).where(Fixmedins.active, Fixmedins.fixmedins_type == FixmedinsType.pharmacy)
        .order_by(Fixmedins.id)
    ).all()  # fmt: skip
    arrays = Pharmacies.from_rows([(r[0], r[1], r[2], r[3], r[4]) for r in rows])
    top = int(arrays.ids.max()) if arrays.ids.size else 0
    row_of_id = np.full(top + 1, -1, dtype=np.int64)
    row_of_id[arrays.ids] = np.arange(arrays.ids.size)
    return PharmacyTable(arrays, row_of_id, [r[5] for r in rows], [r[6] for r in rows])


def _stock_after(session: Session, after: int) -> NDArray[np.int64]:
    """(id, fixmedins_id, drug_id, pric, qty) of stock rows with id > ``after``, via the driver."""
    raw: Any = session.connection().connection.driver_connection
    sql = (
        "SELECT id, fixmedins_id, drug_id, pric, qty FROM medicare_stock WHERE id > {} ORDER BY id"
    )
    mark = "%s" if session.get_bind().dialect.name == "postgresql" else "?"
    cur = raw.cursor()
    try:
        cur.execute(sql.format(mark), (after,))
        rows = cur.fetchall()
    finally:
        cur.close()
    return np.array(rows, dtype=np.int64).reshape(-1, 5)


class OfferIndex:
    def __init__(self, ttl_s: float = 60.0) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._stamp = -float("inf")
        self._catalogue: Catalogue | None = None
        self._table: PharmacyTable | None = None
        self._products: dict[str, Candidates] = {}
        self._upto = 0

    def _ensure(self, session: Session) -> tuple[Catalogue, PharmacyTable]:
        if time.monotonic() - self._stamp < self.ttl_s:
            assert self._catalogue is not None and self._table is not None
            return self._catalogue, self._table
        with self._lock:
            if time.monotonic() - self._stamp >= self.ttl_s:
                self._refresh(session)
            assert self._catalogue is not None and self._table is not None
            return self._catalogue, self._table

    def _refresh(self, session: Session) -> None:
        cat, table = _load_catalogue(session), _load_pharmacies(session)
        new = _stock_after(session, self._upto)
        keys = np.array([""] * cat.pack_of_id.size, dtype=object)
        for e in cat.by_id.values():
            keys[e.drug_id] = e.product_key
        products = {key: self._remap(c, cat, table) for key, c in self._products.items()}
        if new.size:
            drug = new[:, 2]
            known = drug < keys.size
            new, drug = new[known], drug[known]
            new_keys = keys[drug]
            order = np.argsort(new_keys, kind="stable")
            new, new_keys = new[order], new_keys[order]
            bounds = np.flatnonzero(new_keys[1:] != new_keys[:-1]) + 1
            for part in np.split(np.arange(new_keys.size), bounds):
                if part.size == 0 or not new_keys[part[0]]:
                    continue
                block = new[part]
                add = Candidates(
                    stock_id=block[:, 0], fixmedins_id=block[:, 1],
                    row=table.rows(block[:, 1]), drug_id=block[:, 2], price=block[:, 3],
                    pack_qty=cat.pack_of_id[block[:, 2]], qty=block[:, 4],
                )  # fmt: skip
                key = str(new_keys[part[0]])
                products[key] = _concat(products[key], add) if key in products else add
            self._upto = max(self._upto, int(new[:, 0].max()) if new.size else 0)
        self._catalogue, self._table, self._products = cat, table, products
        self._stamp = time.monotonic()

    @staticmethod
    def _remap(c: Candidates, cat: Catalogue, table: PharmacyTable) -> Candidates:
        inside = c.drug_id < cat.pack_of_id.size
        packs = np.where(inside, cat.pack_of_id[np.where(inside, c.drug_id, 0)], 0)
        return Candidates(
            c.stock_id, c.fixmedins_id, np.where(packs > 0, table.rows(c.fixmedins_id), -1),
            c.drug_id, c.price, np.maximum(packs, 1), c.qty,
        )  # fmt: skip

    def catalogue(self, session: Session) -> Catalogue:
        return self._ensure(session)[0]

    def pharmacies(self, session: Session) -> PharmacyTable:
        return self._ensure(session)[1]

    def candidates(self, session: Session, product_key: str) -> Candidates:
        """The product's stock rows (an empty set when nobody stocks it)."""
        self._ensure(session)
        found = self._products.get(product_key)
        if found is not None:
            return found
        empty = np.zeros(0, dtype=np.int64)
        return Candidates(empty, empty, empty, empty, empty, empty, empty)

    def forget(self) -> None:
        """Refresh on the next query (new pharmacies, new stock rows, catalogue changes)."""
        with self._lock:
            self._stamp = -float("inf")


def _concat(a: Candidates, b: Candidates) -> Candidates:
    return Candidates(
        *(np.concatenate([getattr(a, f), getattr(b, f)]) for f in Candidates.__slots__)
    )

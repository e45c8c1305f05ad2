"""Write a generated 渝药易购 market into the database with bulk inserts.

Small tables go through one Core multi-row INSERT each; the stock (millions of rows at the
benchmark size) through ``COPY`` on PostgreSQL and the driver's ``executemany`` on SQLite.
Keys are assigned by the generator, so PostgreSQL's sequences are moved past them afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from cityops.scenarios.medicare.models import (
    Account,
    Drug,
    Fixmedins,
    InsuredPerson,
    MutualAidBinding,
    RefPrice,
    Stock,
)
from cityops.sim import medicare_market, medicare_people
from cityops.sim.medicare_market import Market, MarketSize
from cityops.sim.medicare_people import People

_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class MarketSummary:
    pharmacies: int
    hospitals: int
    products: int
    stock_rows: int
    persons: int
    accounts: int
    bindings: int


def _insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(table), list(rows[start : start + _CHUNK]))


def _stock_rows(market: Market) -> Iterator[tuple[int, int, int, int, int, int]]:
    cols = (market.stock_pharmacy, market.stock_drug, market.stock_price, market.stock_qty)
    for i, (ph, dr, pr, qt) in enumerate(zip(*(c.tolist() for c in cols), strict=True)):
        yield (i + 1, ph, dr, pr, qt, 0)


def _insert_stock(session: Session, market: Market) -> None:
    conn = session.connection()
    raw: Any = conn.connection.driver_connection
    columns = "id, fixmedins_id, drug_id, pric, qty, version"
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY medicare_stock ({columns}) FROM STDIN") as cp:
            for row in _stock_rows(market):
                cp.write_row(row)
        return
    raw.executemany(
        f"INSERT INTO medicare_stock ({columns}) VALUES (?, ?, ?, ?, ?, ?)", _stock_rows(market)
    )


def _move_sequences(session: Session, tables: Sequence[Table]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        top = session.execute(select(func.max(table.c.id))).scalar() or 0
        if top:
            session.execute(
                text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
                {"t": table.name, "v": int(top)},
            )


def load(*, session: Session, market: Market, people: People) -> MarketSummary:
    """Insert the market and the people into empty ``medicare_`` tables (caller commits)."""
    tables = [
        t.__table__
        for t in (Fixmedins, Drug, RefPrice, Stock, InsuredPerson, Account, MutualAidBinding)
    ]
    _insert(session, Fixmedins.__table__, market.fixmedins)  # type: ignore[arg-type]
    _insert(session, Drug.__table__, market.drugs)  # type: ignore[arg-type]
    _insert(session, RefPrice.__table__, market.ref_prices)  # type: ignore[arg-type]
    session.flush()
    _insert_stock(session, market)
    _insert(session, InsuredPerson.__table__, people.persons)  # type: ignore[arg-type]
    _insert(session, Account.__table__, people.accounts)  # type: ignore[arg-type]
    _insert(session, MutualAidBinding.__table__, people.bindings)  # type: ignore[arg-type]
    _move_sequences(session, tables)  # type: ignore[arg-type]
    pharmacies = sum(1 for f in market.fixmedins if f["fixmedins_type"] == "pharmacy")
    return MarketSummary(
        pharmacies=pharmacies,
        hospitals=len(market.fixmedins) - pharmacies,
        products=len(market.drugs),
        stock_rows=int(market.stock_drug.size),
        persons=len(people.persons),
        accounts=len(people.accounts),
        bindings=len(people.bindings),
    )


def seed_market(
    *, session: Session, size: MarketSize = medicare_market.DEMO, persons: int = 2000, seed: int = 7
) -> MarketSummary:
    """Generate and load a market of ``size`` with ``persons`` insured persons."""
    market = medicare_market.generate(size, seed=seed)
    people = medicare_people.generate(persons, seed=seed)
    return load(session=session, market=market, people=people)

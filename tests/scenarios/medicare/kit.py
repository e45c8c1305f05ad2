"""A hand-built 渝药易购 market small enough to reason about (the clock: Wed 09:00 CST).

Pharmacies around (29.56°N, 106.55°E): NEAR 8:00–22:00 delivering 3 km; OPEN24 ~1.1 km north,
24 h, delivering 5 km; NIGHT ~220 m away, 20:00–02:00 (closed at 09:00); FAR ~50 km away.
Products: AMOX24 and AMOX36 are one product (四同) in two packs; AMOX_OTHER is another maker's;
IBU is non-prescription. Persons: EMP (职工, ¥10.00) provides for KID (居民, no account);
LONE (居民) has no binding; SPOUSE (职工, ¥0) is bound to RICH (职工, ¥50.00). Sex and birth date
(``gend``/``brdy``): EMP man born 1980-05-20, KID girl born 2016-11-30, LONE woman born 1961,
SPOUSE woman 1982, RICH man 1979.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from cityops.geo.cells import cell_of
from cityops.scenarios.medicare.catalogue import pinyin_initials, product_key
from cityops.scenarios.medicare.models import (
    Account,
    Drug,
    Fixmedins,
    FixmedinsType,
    InsuredPerson,
    MutualAidBinding,
    Relation,
    Stock,
)

LAT, LNG = 29.56, 106.55
AMOX24 = "XJ01CAA001C001010100571"
AMOX36 = "XJ01CAA001C001010200571"
AMOX_OTHER = "XJ01CAA001C001010100483"
IBU = "XM01AEB045A001010100571"
UNLISTED = "XJ01CAA001C001010199999"  # well-formed, not in the catalogue
DAY_HOURS = [[480, 1320]] * 7
ALL_DAY = [[0, 1440]] * 7
NIGHT_HOURS = [[1200, 1560]] * 7


def _shop(code: str, lat: float, lng: float, hours: list[list[int]], radius: int) -> Fixmedins:
    return Fixmedins(
        fixmedins_code=code, fixmedins_name=f"药房{code}", fixmedins_type=FixmedinsType.pharmacy,
        admdvs="500107", lat=lat, lng=lng, cell=cell_of(lat, lng), opening_hours=hours,
        delivery_radius_m=radius, active=True,
    )  # fmt: skip


def _drug(code: str, name: str, maker: str, strength: str, pack: int, rx: bool) -> Drug:
    return Drug(
        hilist_code=code, hilist_name=name, pinyin=pinyin_initials(name), kind="western",
        maker_name=f"厂{maker}", maker_code=maker, dosage_form="胶囊剂", strength=strength,
        pack_qty=pack, pack_unit="粒", list_type="甲", rx_flag=rx, lmt_used_flag=False,
        lmt_scope="",
        product_key=product_key(name=name, maker_code=maker, form="胶囊剂", strength=strength),
    )  # fmt: skip


def build(session: Session, *, emp_balance: int = 1000, stock_qty: int = 10) -> dict[str, int]:
    """Insert the market; returns the stock ids by ``pharmacy/code``."""
    shops = {
        "NEAR": _shop("P50010700001", LAT, LNG, DAY_HOURS, 3000),
        "OPEN24": _shop("P50010700002", LAT + 0.01, LNG, ALL_DAY, 5000),
        "NIGHT": _shop("P50010700003", LAT + 0.002, LNG, NIGHT_HOURS, 3000),
        "FAR": _shop("P50010700004", LAT + 0.45, LNG, ALL_DAY, 3000),
    }
    drugs = {
        AMOX24: _drug(AMOX24, "阿莫西林胶囊", "00571", "0.25g", 24, True),
        AMOX36: _drug(AMOX36, "阿莫西林胶囊", "00571", "250mg", 36, True),
        AMOX_OTHER: _drug(AMOX_OTHER, "阿莫西林胶囊", "00483", "0.25g", 24, True),
        IBU: _drug(IBU, "布洛芬片", "00571", "0.2g", 20, False),
    }
    session.add_all([*shops.values(), *drugs.values()])
    session.flush()
    rows = {
        ("NEAR", AMOX24): 1200,  # 50 fen a capsule
        ("NEAR", IBU): 500,
        ("OPEN24", AMOX36): 1440,  # 40 fen a capsule: cheaper per unit in the bigger pack
        ("OPEN24", AMOX_OTHER): 100,  # another maker: another product
        ("OPEN24", IBU): 500,
        ("NIGHT", AMOX24): 100,
        ("FAR", AMOX24): 100,
    }
    stock = {}
    for (shop, code), price in rows.items():
        s = Stock(fixmedins_id=shops[shop].id, drug_id=drugs[code].id, pric=price, qty=stock_qty)
        session.add(s)
        session.flush()
        stock[f"{shop}/{code}"] = s.id
    people = [
        ("EMP", "310", emp_balance), ("KID", "390", None), ("LONE", "390", None),
        ("SPOUSE", "310", 0), ("RICH", "310", 5000),
    ]  # fmt: skip
    born = {"EMP": ("1", date(1980, 5, 20)), "KID": ("2", date(2016, 11, 30)),
            "LONE": ("2", date(1961, 2, 14)), "SPOUSE": ("2", date(1982, 7, 1)),
            "RICH": ("1", date(1979, 3, 8))}  # fmt: skip
    for psn, insutype, _ in people:
        gend, brdy = born[psn]
        session.add(
            InsuredPerson(
                psn_no=psn,
                psn_name=psn,
                insutype=insutype,
                insu_admdvs="500107",
                gend=gend,
                brdy=brdy,
            )
        )
    session.flush()
    for psn, _, balance in people:
        if balance is not None:
            session.add(Account(psn_no=psn, balc=balance, version=0))
    at = datetime(2025, 1, 1, tzinfo=UTC)
    session.add_all(
        [
            MutualAidBinding(provider_psn_no="EMP", beneficiary_psn_no="KID",
                             relation=Relation.child, bound_at=at),
            MutualAidBinding(provider_psn_no="RICH", beneficiary_psn_no="SPOUSE",
                             relation=Relation.spouse, bound_at=at),
        ]
    )  # fmt: skip
    session.flush()
    return stock

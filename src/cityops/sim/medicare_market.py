"""A synthetic 渝药易购 market: designated pharmacies and hospitals across Chongqing's 38 county
units, a drug catalogue with national-format codes, reference prices, pharmacy prices and stock.

Deterministic by ``seed``; sizes are parameters (``DEMO`` and the benchmark's ``BENCH``, 10,000
pharmacies × 5,000 products). Everything is drawn with numpy and written with bulk inserts.

* Pharmacies per district follow approximate resident population (万人, 2020 census rounded);
  half cluster around the district's centroid (σ ≈ 4 km), half spread over its real polygon
  (``sim.geography``'s district polygons). 江北/渝北 are 两江新区 500157 today.
* Catalogue: ``data/medicare_drugs.csv`` lists ~80 common generics (ATC class, name and form
  codes, strengths, packs, 甲/乙, Rx, restrictions, a typical price per unit); products are
  generic × maker × strength × pack. The codes have the real shape (codes.py) but are invented.
* Prices: 挂网价 = unit price × pack × strength × maker factor (originator brands dearer); about
  one maker in four per VBP generic wins 集采 at 20–50 % of its listed price; pharmacy prices
  spread around the reference (lognormal, σ ≈ 12 %, VBP winners tighter). Coverage per product
  is skewed (a few products in most pharmacies, most in few); about 8 % of stock rows are at 0.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import shapely

from cityops.geo.cells import cells_of
from cityops.scenarios.medicare.catalogue import pinyin_initials, product_key
from cityops.sim.geography import _district_polygons, _divisions, _sample_inside

# Resident population in 万 (approximate), which drives how many pharmacies a district has.
POPULATION = {
    "500101": 156, "500102": 111, "500103": 59, "500104": 42, "500105": 93, "500106": 148,
    "500107": 153, "500108": 120, "500109": 84, "500110": 102, "500111": 84, "500112": 220,
    "500113": 118, "500114": 49, "500115": 70, "500116": 136, "500117": 125, "500118": 115,
    "500119": 57, "500120": 77, "500151": 69, "500152": 69, "500153": 67, "500154": 120,
    "500155": 65, "500156": 35, "500229": 19, "500230": 56, "500231": 65, "500233": 72,
    "500235": 93, "500236": 75, "500237": 46, "500238": 39, "500240": 39, "500241": 50,
    "500242": 55, "500243": 50,
}  # fmt: skip
MERGED = {"500105": "500157", "500112": "500157"}  # 两江新区 since 2025-11-06
CHAINS = (
    "桐君阁大药房", "和平药房", "鑫斛药房", "一心堂", "老百姓大药房", "益丰大药房", "万和药房",
    "重药大药房", "太极大药房", "健之佳", "民生药房", "同仁堂药店",
)  # fmt: skip
MAKERS = (
    ("太极集团重庆桐君阁药厂", 1.0), ("重庆药友制药", 1.0), ("西南药业", 0.9),
    ("重庆华森制药", 1.0), ("重庆科瑞制药", 0.95), ("太极集团涪陵制药厂", 1.0),
    ("华润三九医药", 1.2), ("石药集团欧意药业", 0.9), ("扬子江药业集团", 1.1), ("齐鲁制药", 1.0),
    ("华北制药", 0.85), ("哈药集团制药总厂", 0.85), ("广州白云山制药总厂", 1.0),
    ("北京同仁堂", 1.3), ("云南白药集团", 1.3), ("修正药业", 1.0), ("江苏恒瑞医药", 1.2),
    ("浙江海正药业", 1.0), ("上海信谊药厂", 1.0), ("北京双鹤药业", 1.0), ("天津力生制药", 0.9),
    ("石家庄以岭药业", 1.1), ("陕西步长制药", 1.1), ("浙江康恩贝制药", 1.0),
    ("辉瑞制药", 2.5), ("阿斯利康制药", 2.6), ("拜耳医药保健", 2.4), ("赛诺菲(杭州)制药", 2.3),
    ("默沙东制药", 2.5), ("北京诺华制药", 2.4),
)  # fmt: skip
# Opening hours drawn per pharmacy: (share, Monday–Saturday, Sunday); minutes of local time.
HOURS = (
    (0.15, [0, 1440], [0, 1440]),
    (0.50, [480, 1320], [480, 1320]),
    (0.25, [510, 1290], [540, 1260]),
    (0.10, [450, 1380], None),
)
RADII = (0, 3000, 5000)  # delivery radius (m): pick-up only, 3 km, 5 km


@dataclass(frozen=True, slots=True)
class MarketSize:
    pharmacies: int
    products: int
    hospitals: int
    coverage: float  # mean share of pharmacies stocking a product


DEMO = MarketSize(pharmacies=800, products=1000, hospitals=60, coverage=0.2)
BENCH = MarketSize(pharmacies=10_000, products=5_000, hospitals=400, coverage=0.03)


@dataclass
class Market:
    """Rows ready for bulk insert (ids assigned from 1), plus stock as parallel arrays."""

    fixmedins: list[dict[str, Any]] = field(default_factory=list)
    drugs: list[dict[str, Any]] = field(default_factory=list)
    ref_prices: list[dict[str, Any]] = field(default_factory=list)
    stock_pharmacy: np.ndarray[Any, Any] = field(default_factory=lambda: np.zeros(0, np.int64))
    stock_drug: np.ndarray[Any, Any] = field(default_factory=lambda: np.zeros(0, np.int64))
    stock_price: np.ndarray[Any, Any] = field(default_factory=lambda: np.zeros(0, np.int64))
    stock_qty: np.ndarray[Any, Any] = field(default_factory=lambda: np.zeros(0, np.int64))


def _generics() -> list[dict[str, str]]:
    path = resources.files("cityops.sim") / "data" / "medicare_drugs.csv"
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _places(n: int, rng: np.random.Generator) -> tuple[np.ndarray[Any, Any], list[str]]:
    """``n`` points (lng, lat) spread over the districts by population, and their adcodes."""
    polys = _district_polygons()
    codes = sorted(POPULATION)
    weights = np.array([POPULATION[c] for c in codes], dtype=np.float64)
    counts = rng.multinomial(n, weights / weights.sum())
    points: list[np.ndarray[Any, Any]] = []
    admdvs: list[str] = []
    for code, k in zip(codes, counts, strict=True):
        if k == 0:
            continue
        poly = polys[code]
        shapely.prepare(poly)
        centre = shapely.get_coordinates(shapely.point_on_surface(poly))[0]
        near = int(k) // 2
        pts: list[np.ndarray[Any, Any]] = [np.zeros((0, 2))]
        got = 0
        while got < near:
            cand = centre + rng.normal(0.0, 0.04, size=(2 * near + 8, 2))
            cand = cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]
            pts.append(cand)
            got += len(cand)
        spread = _sample_inside(poly, int(k) - near, rng)
        points.append(np.concatenate([np.concatenate(pts)[:near], spread]))
        admdvs += [MERGED.get(code, code)] * int(k)
    return np.concatenate(points), admdvs


def _fixmedins(size: MarketSize, rng: np.random.Generator) -> list[dict[str, Any]]:
    total = size.pharmacies + size.hospitals
    xy, admdvs = _places(total, rng)
    order = rng.permutation(total)
    xy, admdvs = xy[order], [admdvs[i] for i in order]
    cells = cells_of(xy[:, 1], xy[:, 0])
    shares = np.array([h[0] for h in HOURS])
    kinds = rng.choice(len(HOURS), size=total, p=shares / shares.sum())
    radii = rng.choice(RADII, size=total, p=[0.3, 0.4, 0.3])
    chains = rng.integers(0, len(CHAINS), size=total)
    names = {d.code: d.name for d in _divisions()} | {"500157": "两江新区"}
    rows: list[dict[str, Any]] = []
    serial: dict[tuple[str, str], int] = {}
    for i in range(total):
        pharmacy = i < size.pharmacies
        adm = admdvs[i]
        prefix = "P" if pharmacy else "H"
        k = serial[(prefix, adm)] = serial.get((prefix, adm), 0) + 1
        _, weekday, sunday = HOURS[int(kinds[i])]
        hours = [weekday] * 6 + [sunday] if pharmacy else [[0, 1440]] * 7
        place = names.get(adm, adm)
        name = f"{CHAINS[int(chains[i])]}({place}{k}店)" if pharmacy else f"{place}第{k}医院"
        rows.append(
            {
                "id": i + 1,
                "fixmedins_code": f"{prefix}{adm}{k:05d}",
                "fixmedins_name": name,
                "fixmedins_type": "pharmacy" if pharmacy else "hospital",
                "admdvs": adm,
                "address": "",
                "lat": round(float(xy[i, 1]), 6),
                "lng": round(float(xy[i, 0]), 6),
                "cell": int(cells[i]),
                "opening_hours": hours,
                "delivery_radius_m": int(radii[i]) if pharmacy else 0,
                "active": True,
            }
        )
    return rows


def _catalogue(
    size: MarketSize, rng: np.random.Generator
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], np.ndarray[Any, Any]]:
    """Products (generic × maker × strength × pack) up to ``size.products``; their 挂网价 and
    集采 prices; each product's expected pharmacy price factor (VBP winners sell near award)."""
    combos: list[tuple[dict[str, str], int, int, str, str]] = []
    for g in _generics():
        strengths, packs = g["strengths"].split(";"), g["packs"].split(";")
        makers = rng.choice(len(MAKERS), size=len(MAKERS), replace=False)
        for m in makers:
            for si, s in enumerate(strengths):
                combos += [(g, int(m), si, s, p) for p in packs]
    pick = np.sort(rng.choice(len(combos), size=min(size.products, len(combos)), replace=False))
    drugs: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    vbp_factor = np.ones(len(pick))
    winners: dict[str, set[int]] = {}
    for n, idx in enumerate(pick):
        g, maker, si, strength, pack = combos[int(idx)]
        pack_i = g["packs"].split(";").index(pack)
        maker_name, brand = MAKERS[maker]
        maker_code = f"{10_000 + maker * 1733 % 89_000:05d}"
        spec = f"{si + 1:02d}{pack_i + 1:02d}"
        if g["kind"] == "X":
            code = f"X{g['category']}{g['name_code']}{g['form_code']}{spec}{maker_code}"
        else:
            code = f"Z{g['category']}{g['name_code']}{spec}{maker_code}"
        qty = int(pack)
        listed = round(float(g["unit_fen"]) * qty * (1 + 0.6 * si) * brand * qty ** (-0.05))
        listed = max(listed, 10)
        vbp: int | None = None
        if g["vbp"] == "1" and brand < 2.0:
            won = winners.setdefault(g["name"], set())
            if maker in won or (len(won) < 2 and rng.random() < 0.3):
                won.add(maker)
                vbp = max(int(listed * rng.uniform(0.2, 0.5)), 5)
                vbp_factor[n] = vbp / listed
        drugs.append(
            {
                "id": n + 1,
                "hilist_code": code,
                "hilist_name": g["name"],
                "pinyin": pinyin_initials(g["name"]),
                "kind": "western" if g["kind"] == "X" else "patent",
                "maker_name": maker_name,
                "maker_code": maker_code,
                "dosage_form": g["form"],
                "strength": strength,
                "pack_qty": qty,
                "pack_unit": g["pack_unit"],
                "list_type": g["list_type"],
                "rx_flag": g["rx"] == "1",
                "lmt_used_flag": bool(g["lmt_scope"]),
                "lmt_scope": g["lmt_scope"],
                "product_key": product_key(
                    name=g["name"], maker_code=maker_code, form=g["form"], strength=strength
                ),
            }
        )
        refs.append(
            {
                "id": n + 1,
                "hilist_code": code,
                "listed_price": listed,
                "vbp_price": vbp,
                "vbp_batch": "第九批" if vbp else None,
            }
        )
    return drugs, refs, vbp_factor


# Hospital grades (医院等级 ``hosp_lv``): 一级, 二级, 三级, ungraded (null). An assumed mix of the
# order of the national one (many 一级 and ungraded, few 三级), not a published Chongqing count.
GRADES = ((1, 0.35), (2, 0.30), (3, 0.10), (None, 0.25))


def _grade(rows: list[dict[str, Any]], seed: int) -> None:
    """Set ``hosp_lv`` on every row, from a stream of its own so the rest of the market stays
    what the seed gave before grades existed."""
    rng = np.random.default_rng([seed, 4110])
    p = np.array([g[1] for g in GRADES])
    draws = rng.choice(len(GRADES), size=len(rows), p=p / p.sum())
    for row, k in zip(rows, draws.tolist(), strict=True):
        row["hosp_lv"] = None if row["fixmedins_type"] == "pharmacy" else GRADES[k][0]


def generate(size: MarketSize = DEMO, *, seed: int = 7) -> Market:
    """The whole market for ``size``; the same seed gives the same market."""
    rng = np.random.default_rng([seed, 4107])
    fixmedins = _fixmedins(size, rng)
    _grade(fixmedins, seed)
    drugs, refs, vbp_factor = _catalogue(size, rng)
    n_ph, n_pr = size.pharmacies, len(drugs)
    popularity = rng.lognormal(0.0, 1.2, size=n_pr)
    share = np.clip(popularity / popularity.mean() * size.coverage, 0.002, 0.9)
    chain_factor = rng.lognormal(0.0, 0.05, size=n_ph)
    listed = np.array([r["listed_price"] for r in refs], dtype=np.float64)
    ph_parts, dr_parts, pr_parts = [], [], []
    for d in range(n_pr):
        where = np.flatnonzero(rng.random(n_ph) < share[d])
        if where.size == 0:
            continue
        sigma = 0.05 if vbp_factor[d] < 1.0 else 0.12
        base = listed[d] * vbp_factor[d] * (1.1 if vbp_factor[d] < 1.0 else 0.97)
        price = base * chain_factor[where] * rng.lognormal(0.0, sigma, size=where.size)
        ph_parts.append(where + 1)
        dr_parts.append(np.full(where.size, d + 1))
        pr_parts.append(np.maximum(np.rint(price), 1).astype(np.int64))
    pharmacy = np.concatenate(ph_parts).astype(np.int64)
    drug = np.concatenate(dr_parts).astype(np.int64)
    price_arr = np.concatenate(pr_parts)
    qty = rng.geometric(0.06, size=pharmacy.size).astype(np.int64)
    qty[rng.random(pharmacy.size) < 0.08] = 0
    return Market(fixmedins, drugs, refs, pharmacy, drug, price_arr, qty)

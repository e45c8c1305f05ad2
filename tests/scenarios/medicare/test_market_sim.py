"""The market simulator: deterministic, national-format codes, Chongqing places, sane prices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cityops.cli import app
from cityops.scenarios.medicare import codes
from cityops.scenarios.medicare.models import Account, Drug, Fixmedins, Stock
from cityops.sim import medicare_load, medicare_market, medicare_people
from cityops.store.base import Base
from cityops.store.engine import make_engine

SMALL = medicare_market.MarketSize(pharmacies=300, products=400, hospitals=10, coverage=0.2)


def test_same_seed_same_market_and_codes_are_valid() -> None:
    a = medicare_market.generate(SMALL, seed=3)
    b = medicare_market.generate(SMALL, seed=3)
    assert [d["hilist_code"] for d in a.drugs] == [d["hilist_code"] for d in b.drugs]
    assert np.array_equal(a.stock_price, b.stock_price)
    assert len({d["hilist_code"] for d in a.drugs}) == 400
    for d in a.drugs:
        parsed = codes.parse(d["hilist_code"])
        assert len(d["hilist_code"]) == (23 if parsed.kind == codes.DrugKind.western else 20)
        assert d["pinyin"] and d["list_type"] in ("甲", "乙")
    for f in a.fixmedins:
        assert 105.2 < f["lng"] < 110.3 and 28.1 < f["lat"] < 32.3
        assert f["admdvs"].startswith("50")
    # VBP winners sell well below the listed price of their generic.
    refs = [r for r in a.ref_prices if r["vbp_price"]]
    assert refs and all(r["vbp_price"] < r["listed_price"] for r in refs)


def test_people_have_accounts_only_when_employees_and_one_provider_each() -> None:
    people = medicare_people.generate(500, seed=1)
    employees = {p["psn_no"] for p in people.persons if p["insutype"] == "310"}
    assert {a["psn_no"] for a in people.accounts} == employees
    beneficiaries = [b["beneficiary_psn_no"] for b in people.bindings]
    assert len(beneficiaries) == len(set(beneficiaries))
    assert all(b["provider_psn_no"] in employees for b in people.bindings)


def test_loads_into_both_databases(session: Session) -> None:
    summary = medicare_load.load(
        session=session,
        market=medicare_market.generate(SMALL, seed=3),
        people=medicare_people.generate(200, seed=3),
    )
    session.commit()
    assert session.scalar(select(func.count()).select_from(Drug)) == summary.products == 400
    assert session.scalar(select(func.count()).select_from(Stock)) == summary.stock_rows
    assert session.scalar(select(func.count()).select_from(Fixmedins)) == 310
    assert session.scalar(select(func.min(Account.balc))) >= 0


def test_the_cli_fills_an_empty_market_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    runner = CliRunner()
    args = ["sim", "medicare", "--persons", "300", "--database-url", url]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "800 pharmacies" in first.output and "1000 products" in first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already hold a market" in again.output
    bad = runner.invoke(app, ["sim", "medicare", "--size", "huge", "--database-url", url])
    assert bad.exit_code == 2

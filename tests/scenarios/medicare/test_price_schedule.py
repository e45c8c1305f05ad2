"""The scheduled daily price check on both backends, driven by the injected clock: once per
local day at or after ``medicare_price_check_at``, never twice, not when someone already ran
today's check by hand; three scheduled days open the persistent outlier's case (with its event
after commit)."""

from __future__ import annotations

import time as time_module
from datetime import datetime, time
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from cityops.scenarios.medicare.models import PriceCheck
from cityops.scenarios.medicare.price_schedule import DailyPriceCheck, due, run_if_due
from cityops.settings import Settings
from tests.api.conftest import Api, api  # noqa: F401
from tests.scenarios.medicare.test_prices_api import check, counts, market  # noqa: F401


def at(api: Api, day: int, hour: int, minute: int = 0) -> None:  # noqa: F811
    api.clock.set(datetime(2026, 11, day, hour, minute, tzinfo=api.ctx.settings.tz))
    api.tokens.clear()


def checks(api: Api) -> list[str]:  # noqa: F811
    with api.ctx.sessions() as s:
        return [d.isoformat() for d in s.scalars(select(PriceCheck.day).order_by(PriceCheck.day))]


def test_once_a_day_after_the_time_and_not_after_a_manual_check(market: Api) -> None:  # noqa: F811
    events: list[Any] = []
    market.ctx.bus.subscribe("medicare.*", events.append)
    at(market, 25, 1, 59)  # before 02:00 local: not yet
    assert run_if_due(market.ctx) is None and checks(market) == []
    at(market, 25, 2, 0)
    first = run_if_due(market.ctx)
    assert first is not None and (first["day"], first["flagged"]) == ("2026-11-25", 1)
    at(market, 25, 23, 59)
    assert run_if_due(market.ctx) is None  # today's is done
    at(market, 26, 1, 30)
    check(market)  # an analyst runs the 26th's check by hand before the schedule
    at(market, 26, 2, 30)
    assert run_if_due(market.ctx) is None
    assert checks(market) == ["2026-11-25", "2026-11-26"]
    at(market, 27, 8, 0)  # the process was down at 02:00: the check runs when it is back
    third = run_if_due(market.ctx)
    assert third is not None and third["day"] == "2026-11-27"
    assert [o["stock_id"] for o in third["opened"]] == [market.ctx.extras["ids"]["D"]]
    assert counts(market) == (1, 1, 1)
    assert [e.subject for e in events] == ["medicare.price_case_opened"]


def test_the_time_is_a_setting_in_local_time(market: Api) -> None:  # noqa: F811
    market.ctx.settings = market.ctx.settings.model_copy(
        update={"medicare_price_check_at": "23:30"}
    )
    at(market, 25, 23, 29)
    assert run_if_due(market.ctx) is None
    at(market, 25, 23, 30)
    assert run_if_due(market.ctx) is not None
    assert checks(market) == ["2026-11-25"]
    assert due(datetime(2026, 1, 1, 2, 0), time(2, 0)) and not due(
        datetime(2026, 1, 1, 1, 59), time(2, 0)
    )
    for bad in ("24:00", "2:00", "02:60", "nope"):
        with pytest.raises(ValidationError):
            Settings(secret_key="x" * 32, medicare_price_check_at=bad)


def test_the_job_runs_in_its_thread(market: Api) -> None:  # noqa: F811
    """What serve, worker and the demo start: the check is stored without anyone asking."""
    job = DailyPriceCheck(market.ctx, interval=0.05)
    job.start()
    try:
        for _ in range(600):  # up to 30 s on a loaded machine
            if checks(market):
                break
            time_module.sleep(0.05)
    finally:
        job.stop()
    assert checks(market) == ["2026-11-25"]

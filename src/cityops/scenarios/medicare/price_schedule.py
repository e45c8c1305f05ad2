"""医药价格智治: the daily price check on a schedule, so persistent outliers are followed without
someone pressing 「今日检查」 every day.

Once per local day, at or after ``medicare_price_check_at`` (local time): when no check is
stored for today yet, ``price_check.run_check`` runs in its own transaction (events after
commit). A check already run today — by hand through ``POST /prices/check``, or by another
process — is left alone, so ``serve``, ``worker`` and the demo may all run the job: two passes
racing on the same day end with one row (``medicare_price_check.day`` is unique; the loser's
pass fails, is logged, and its next pass sees the day done).
"""

from __future__ import annotations

import logging
from datetime import datetime, time
from typing import Any

from sqlalchemy import select

from cityops.api.context import AppContext, unit_of_work
from cityops.cases.runtime import get_rules
from cityops.periodic import Periodic
from cityops.scenarios.medicare.models import PriceCheck
from cityops.scenarios.medicare.price_check import run_check

log = logging.getLogger(__name__)


def check_time(text: str) -> time:
    """``HH:MM`` → a local time of day."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def due(local_now: datetime, at: time) -> bool:
    """The check is due from ``at`` until the local day ends."""
    return local_now.time().replace(tzinfo=None) >= at


def run_if_due(ctx: AppContext) -> dict[str, Any] | None:
    """Today's check when it is time and none is stored for today; else None."""
    local_now = ctx.clock.now().astimezone(ctx.settings.tz)
    if not due(local_now, check_time(ctx.settings.medicare_price_check_at)):
        return None
    with unit_of_work(ctx) as session:
        done = session.scalar(select(PriceCheck.id).where(PriceCheck.day == local_now.date()))
        if done is not None:
            return None
        return run_check(
            session=session, settings=ctx.settings, rules=get_rules(ctx, session),
            at=ctx.clock.now(),
        )  # fmt: skip


class DailyPriceCheck(Periodic):
    """``run_if_due`` every ``interval`` seconds (a minute: the check starts within a minute of
    its time; a pass outside the time costs one clock read)."""

    def __init__(self, ctx: AppContext, *, interval: float = 60.0) -> None:
        super().__init__("medicare-price-check", interval)
        self.ctx = ctx

    def step(self) -> dict[str, Any] | None:
        out = run_if_due(self.ctx)
        if out is not None:
            log.info(
                "price check %s: %d rows, %d flagged, %d cases opened",
                out["day"], out["rows"], out["flagged"], len(out["opened"]),
            )  # fmt: skip
        return out

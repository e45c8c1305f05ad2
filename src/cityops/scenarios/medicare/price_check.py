"""医药价格智治 writes: a pharmacy sets a price (the change is recorded), and the daily check
that follows each flagged row and opens a supervision case for a persistent outlier.

Both run in the caller's transaction. A row flagged in ``medicare_price_persist_days``
consecutive checks opens a case of ``medicare_price_case_category`` (药品价格异常) at the
pharmacy through the core intake, with a ``medicare.price_case`` ledger entry; one case per
(stock row, episode) — ``medicare_price_case`` is unique on the pair, so a re-run or a later
check of the same episode opens nothing. An episode ends with the first check that does not
flag the row; the next flag starts a new one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.auth.scope import machine
from cityops.bus.memory import queue_event
from cityops.cases import intake
from cityops.cases.models import Channel
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate, Point
from cityops.errors import CityOpsError, NotFound
from cityops.ledger import service as ledger
from cityops.scenarios.medicare import pricegov
from cityops.scenarios.medicare.models import (
    PriceCase,
    PriceChange,
    PriceCheck,
    PriceWatch,
    Stock,
)
from cityops.scenarios.medicare.price_read import Market, num
from cityops.scenarios.medicare.price_read import load as load_market
from cityops.settings import Settings

ACTOR = "system:medicare-price"


def set_price(
    *, session: Session, stock_id: int, pric: int, reason: str, actor: str, at: datetime
) -> PriceChange | None:
    """Set a stock row's price per pack (fen); the change is kept with who and why and goes to
    the ledger. The same price again changes nothing (None)."""
    stock = session.execute(
        select(Stock).where(Stock.id == stock_id).with_for_update()
    ).scalar()  # fmt: skip
    if stock is None:
        raise NotFound(f"no stock row {stock_id}", code="unknown_stock")
    if stock.pric == pric:
        return None
    change = PriceChange(
        stock_id=stock_id, old_pric=stock.pric, new_pric=pric, reason=reason[:200], actor=actor,
        changed_at=at,
    )  # fmt: skip
    stock.pric = pric
    stock.version += 1
    session.add(change)
    session.flush()
    ledger.append(
        session=session, at=at, actor=actor, action="medicare.price_set",
        subject=f"medicare_stock:{stock_id}",
        payload={"old_pric": change.old_pric, "new_pric": pric, "reason": change.reason},
    )  # fmt: skip
    return change


def _ordinal(day: date | None) -> int | None:
    return day.toordinal() if day is not None else None


def local_day(at: datetime, settings: Settings) -> date:
    return at.astimezone(ZoneInfo(settings.time_zone)).date()


def run_check(
    *, session: Session, settings: Settings, rules: CaseRules, at: datetime
) -> dict[str, Any]:
    """Today's check over every active pharmacy's stock (see the module)."""
    market = load_market(session=session, settings=settings)
    today = local_day(at, settings)
    previous = session.scalar(select(func.max(PriceCheck.day)).where(PriceCheck.day < today))
    flagged_at = {
        int(s): i for i, s in enumerate(market.rows.stock_id.tolist())
        if market.result.flags[i] > 0
    }  # fmt: skip
    watches = {w.stock_id: w for w in session.scalars(select(PriceWatch))}
    persistent: list[tuple[PriceWatch, int]] = []
    for stock_id in set(flagged_at) | {s for s, w in watches.items() if w.streak > 0}:
        i = flagged_at.get(stock_id)
        watch = watches.get(stock_id)
        streak = pricegov.next_streak(
            flagged=i is not None,
            last_flag_day=_ordinal(watch.last_flag_day if watch else None),
            previous_check_day=_ordinal(previous),
            today=today.toordinal(),
            streak=watch.streak if watch else 0,
        )
        if watch is None:
            watch = PriceWatch(stock_id=stock_id, streak=0, episode_start=today)
            session.add(watch)
        if i is None:
            watch.streak = 0
            continue
        if streak == 1 and watch.last_flag_day != today:
            watch.episode_start = today
        watch.streak, watch.last_flag_day = streak, today
        watch.last_ratio = num(market.result.worst[i])
        if streak >= settings.medicare_price_persist_days:
            persistent.append((watch, i))
    check = session.scalar(select(PriceCheck).where(PriceCheck.day == today))
    if check is None:
        check = PriceCheck(day=today, ran_at=at, rows=0, flagged=0)
        session.add(check)
    check.ran_at, check.rows, check.flagged = at, len(market.rows.stock_id), len(flagged_at)
    session.flush()
    opened, refused = _open_cases(session, settings, rules, market, persistent, at)
    return {
        "day": today.isoformat(), "rows": check.rows, "flagged": check.flagged,
        "persistent": len(persistent), "opened": opened, "refused": refused,
    }  # fmt: skip


def _open_cases(
    session: Session, settings: Settings, rules: CaseRules, market: Market,
    persistent: list[tuple[PriceWatch, int]], at: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    if not persistent:
        return [], []
    have = {
        (int(s), d)
        for s, d in session.execute(
            select(PriceCase.stock_id, PriceCase.episode_start).where(
                PriceCase.stock_id.in_([w.stock_id for w, _ in persistent])
            )
        )
    }
    opened, refused = [], []
    for watch, i in persistent:
        if (watch.stock_id, watch.episode_start) in have:
            continue
        code, name, _, lat, lng = market.shop(i)
        hilist_code, drug_name, _ = market.drug(i)
        pric = int(market.pric[i])
        c = market.result
        facts = {
            "stock_id": watch.stock_id, "fixmedins_code": code, "hilist_code": hilist_code,
            "episode_start": watch.episode_start.isoformat(), "streak": watch.streak,
            "pric": pric, "deviation": num(c.worst[i]), "r_listed": num(c.r_listed[i]),
            "r_vbp": num(c.r_vbp[i]), "r_median": num(c.r_median[i]),
            "flags": pricegov.flag_names(int(c.flags[i])),
        }  # fmt: skip
        data = CaseCreate(
            category=settings.medicare_price_case_category,
            channel=Channel.sensor,
            location=Point(lat=lat, lng=lng),
            title=f"药品价格异常：{name} {drug_name}"[:120],
            description=_describe(facts, settings),
            external_ref=f"price:{watch.stock_id}:{watch.episode_start.isoformat()}",
        )
        try:
            with session.begin_nested():
                result = intake.report(
                    session=session, rules=rules, data=data, actor=machine(ACTOR), at=at
                )
        except CityOpsError as exc:  # e.g. a pharmacy outside the city map: listed, not fatal
            refused.append({**facts, "code": exc.code, "reason": str(exc)})
            continue
        case_id = result.case.id
        session.add(PriceCase(
            stock_id=watch.stock_id, episode_start=watch.episode_start, case_id=case_id,
            opened_at=at,
        ))  # fmt: skip
        facts = {**facts, "case_id": case_id, "joined": result.duplicate}
        ledger.append(
            session=session, at=at, actor=ACTOR, action="medicare.price_case",
            subject=f"case:{case_id}", payload=facts,
        )  # fmt: skip
        queue_event(session.info, "medicare.price_case_opened", {**facts, "lat": lat, "lng": lng})
        opened.append(facts)
    session.flush()
    return opened, refused


def _describe(facts: dict[str, Any], settings: Settings) -> str:
    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x * 100:+.1f}%"

    return (
        f"连续 {facts['streak']} 次日常价格监测超出容差（自 {facts['episode_start']} 起）。"
        f"药店 {facts['fixmedins_code']}，药品 {facts['hilist_code']}，"
        f"现价 {facts['pric'] / 100:.2f} 元。"
        f"较挂网价 {pct(facts['r_listed'])}（容差 {settings.medicare_price_tol_listed:.0%}），"
        f"较集采中选价 {pct(facts['r_vbp'])}（容差 {settings.medicare_price_tol_vbp:.0%}），"
        f"较本区同品种中位价 {pct(facts['r_median'])}"
        f"（容差 {settings.medicare_price_tol_median:.0%}）。"
    )

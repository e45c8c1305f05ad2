"""Rules persistence in the caller's transaction: states, timers, firings, alarms, ledger facts.

Functions flush, never commit. States and timers are written in bulk (one statement per batch),
so a batch of readings costs a handful of statements however many instances changed.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, tuple_, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cityops.bus.memory import queue_event
from cityops.errors import NotFound
from cityops.ledger import service as ledger
from cityops.rules import alarms as lifecycle
from cityops.rules.alarms import AlarmState, AlarmView, Decision
from cityops.rules.evaluate import State, Timer
from cityops.rules.models import Alarm, RuleFiring, RuleState, RuleTimer

Key = tuple[str, str]  # (plan id, instance)


def _upsert(session: Session, table: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    cols = [c for c in rows[0] if c not in keys]
    stmt = ins.on_conflict_do_update(
        index_elements=keys, set_={c: getattr(ins.excluded, c) for c in cols}
    )
    session.execute(stmt, rows)


def load_states(*, session: Session) -> dict[Key, State]:
    """Every stored instance state (the engine caches them; at most one row per instance)."""
    rows = session.execute(select(RuleState.plan_id, RuleState.instance, RuleState.state))
    return {(p, i): json.loads(s) for p, i, s in rows}


def save_states(*, session: Session, states: dict[Key, State], at: datetime) -> None:
    rows = [
        {
            "plan_id": p,
            "instance": i,
            "state": json.dumps(s, separators=(",", ":")),
            "updated_at": at,
        }
        for (p, i), s in states.items()
    ]
    _upsert(session, RuleState.__table__, rows, ["plan_id", "instance"])


def _ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def set_timers(*, session: Session, timers: list[Timer]) -> None:
    """Set or move timers (the last one per key wins)."""
    last = {(t.plan, t.instance, t.kind): t for t in timers}
    rows = [
        {
            "plan_id": t.plan,
            "instance": t.instance,
            "kind": t.kind,
            "fire_at": _ts(t.fire_at),
            "data": json.dumps(t.data),
        }
        for t in last.values()
    ]
    _upsert(session, RuleTimer.__table__, rows, ["plan_id", "instance", "kind"])


def cancel_timers(*, session: Session, keys: list[tuple[str, str, str]]) -> None:
    if keys:
        cols = tuple_(RuleTimer.plan_id, RuleTimer.instance, RuleTimer.kind)
        for i in range(0, len(keys), 500):
            session.execute(delete(RuleTimer).where(cols.in_(keys[i : i + 500])))


def due_timers(*, session: Session, now: datetime, limit: int = 1000) -> list[Timer]:
    """Timers due at ``now``, oldest first; they are removed (a re-set writes them again)."""
    rows = session.execute(
        select(
            RuleTimer.id, RuleTimer.fire_at, RuleTimer.plan_id, RuleTimer.instance,
            RuleTimer.kind, RuleTimer.data,
        )
        .where(RuleTimer.fire_at <= now)
        .order_by(RuleTimer.fire_at, RuleTimer.id)
        .limit(limit)
    ).all()  # fmt: skip
    if rows:
        session.execute(delete(RuleTimer).where(RuleTimer.id.in_([r.id for r in rows])))
    return [
        Timer(r.fire_at.timestamp(), r.plan_id, r.instance, r.kind, json.loads(r.data))
        for r in rows
    ]


def pending_timers(*, session: Session) -> list[Timer]:
    rows = session.execute(select(RuleTimer).order_by(RuleTimer.fire_at)).scalars()
    return [Timer(r.fire_at.timestamp(), r.plan_id, r.instance, r.kind) for r in rows]


def add_firings(*, session: Session, traces: list[dict[str, Any]], at: datetime) -> None:
    if traces:
        session.execute(
            insert(RuleFiring),
            [
                {
                    "at": at,
                    "plan_id": tr["plan"],
                    "instance": tr["instance"],
                    "event": tr["event"],
                    "trace": json.dumps(tr, ensure_ascii=False, default=str),
                }
                for tr in traces
            ],
        )


def firings(
    *, session: Session, source: str | None, plan: str | None, limit: int
) -> list[RuleFiring]:
    stmt = select(RuleFiring).order_by(RuleFiring.id.desc()).limit(limit)
    if source:
        stmt = stmt.where(RuleFiring.instance == source)
    if plan:
        stmt = stmt.where(RuleFiring.plan_id == plan)
    return list(session.execute(stmt).scalars())


# ------------------------------------------------------------------------------------ alarms
_VIEW_FIELDS = [f.name for f in fields(AlarmView)]


def view(alarm: Alarm) -> AlarmView:
    data = {name: getattr(alarm, name) for name in _VIEW_FIELDS}
    data["state"] = AlarmState(alarm.state)
    return AlarmView(**data)


def latest_alarm(*, session: Session, plan: str, instance: str) -> Alarm | None:
    """The instance's newest alarm (open, or the last cleared one for flapping)."""
    return latest_alarms(session=session, keys=[(plan, instance)]).get((plan, instance))


def latest_alarms(*, session: Session, keys: list[Key]) -> dict[Key, Alarm]:
    """The newest alarm of each (plan, instance) that has one: two queries for a whole batch."""
    out: dict[Key, Alarm] = {}
    for i in range(0, len(keys), 200):  # SQLite allows 500 terms in a compound SELECT
        chunk = keys[i : i + 200]
        # One index seek per key: a row-value IN (or an OR of them) makes SQLite walk every
        # alarm of the plan, and the alarm table keeps every alarm the city ever had.
        newest = union_all(
            *(
                select(func.max(Alarm.id)).where(Alarm.plan_id == p, Alarm.instance == k)
                for p, k in chunk
            )
        )
        for row in session.execute(select(Alarm).where(Alarm.id.in_(newest))).scalars():
            out[(row.plan_id, row.instance)] = row
    return out


def write_alarm(
    *,
    session: Session,
    current: Alarm | None,
    decision: Decision,
    plan: str,
    instance: str,
    jurisdiction_code: str | None,
) -> Alarm | None:
    """Write the lifecycle's decision on the row (a new row if it says so); no flush."""
    if decision.event == "unchanged" or decision.alarm is None:
        return current
    v = decision.alarm
    row = (
        Alarm(plan_id=plan, instance=instance, jurisdiction_code=jurisdiction_code)
        if (decision.new_row or current is None)
        else current
    )
    for name in _VIEW_FIELDS:
        value = getattr(v, name)
        setattr(row, name, value.value if isinstance(value, AlarmState) else value)
    row.open_key = None if v.state is AlarmState.cleared else f"{plan}|{instance}"
    if row.id is None:
        session.add(row)
    return row


def alarm_recorded(
    *, session: Session, row: Alarm, event: str, actor: str, at: datetime
) -> ledger.Fact:
    """The ledger fact for one change of a flushed alarm; queues its bus event."""
    body = {
        "alarm_id": row.id,
        "plan": row.plan_id,
        "source": row.instance,
        "state": row.state,
        "severity": row.severity,
        "flapping": row.flapping,
    }
    # The place rides on the event only, so the stream can show it to that place's staff.
    where = {"jurisdiction_code": row.jurisdiction_code}
    queue_event(session.info, f"alarms.{event}", {**body, **where, "at": at.isoformat()})
    return ledger.Fact(actor, f"alarm.{event}", f"alarm:{row.id}", body)


def get_alarm(*, session: Session, alarm_id: int) -> Alarm:
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise NotFound(f"alarm {alarm_id} not found", code="alarm_not_found")
    return alarm


def acknowledge(*, session: Session, alarm_id: int, who: str, at: datetime) -> Alarm:
    """确认: the alarm is taken; it stops re-notifying and escalating."""
    alarm = get_alarm(session=session, alarm_id=alarm_id)
    decision = lifecycle.acknowledge(view(alarm), who=who, now=at)
    write_alarm(
        session=session, current=alarm, decision=decision, plan=alarm.plan_id,
        instance=alarm.instance, jurisdiction_code=alarm.jurisdiction_code,
    )  # fmt: skip
    session.flush()
    fact = alarm_recorded(session=session, row=alarm, event=decision.event, actor=who, at=at)
    ledger.append_many(session=session, at=at, facts=[fact])
    return alarm


def list_alarms(
    *,
    session: Session,
    state: str | None,
    severity: str | None,
    plan: str | None,
    scope: str | None,
    limit: int,
) -> list[Alarm]:
    stmt = select(Alarm).order_by(Alarm.id.desc()).limit(limit)
    if state:
        stmt = stmt.where(Alarm.state == state)
    if severity:
        stmt = stmt.where(Alarm.severity == severity)
    if plan:
        stmt = stmt.where(Alarm.plan_id == plan)
    if scope:
        stmt = stmt.where(Alarm.jurisdiction_code.startswith(scope))
    return list(session.execute(stmt).scalars())


def record_actions(*, session: Session, at: datetime, facts: list[ledger.Fact]) -> None:
    """Every action the engine took goes on the ledger (one multi-row insert)."""
    ledger.append_many(session=session, at=at, facts=facts)

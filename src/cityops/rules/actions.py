"""Carrying out what the evaluator decided: actuate, alarms, cases, notifications — and the ledger.

Every action becomes a ledger fact (``rules.actuate``, ``rules.case_opened`` …). An action that
fails (no actuator bound, a case the case engine refuses) is recorded as ``rules.action_failed``
with the reason and does not stop the batch: it runs in a savepoint that is rolled back alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from cityops.errors import CityOpsError
from cityops.ledger import service as ledger
from cityops.rules import alarms as lifecycle
from cityops.rules import evaluate as ev
from cityops.rules import service
from cityops.rules.evaluate import Call, State, Timer
from cityops.rules.models import Alarm
from cityops.rules.plans import Actuate, EscalateAlarm, Notify, OpenCase, RaiseAlarm
from cityops.rules.ports import Actuator, CasePort, CaseRef, Notifier

if TYPE_CHECKING:
    from cityops.rules.binding import Instance

log = logging.getLogger(__name__)
TimerKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class _AlarmNote:
    """An alarm change whose ledger fact and notification wait for the batch's one flush."""

    row: Alarm
    event: str
    actor: str
    notify: list[str] | None
    message: str
    about: dict[str, Any]


class Executor:
    """Runs one batch's actions; ``prepare`` before, ``flush`` after (ledger facts in order)."""

    def __init__(self, *, actuator: Actuator, notifier: Notifier, cases: CasePort | None) -> None:
        self.actuator, self.notifier, self.cases = actuator, notifier, cases
        self.facts: list[ledger.Fact | _AlarmNote] = []
        self.alarms: dict[tuple[str, str], Alarm] = {}

    def prepare(self, session: Session, keys: list[tuple[str, str]]) -> None:
        """Load the newest alarm of every instance the batch touches, in two queries."""
        self.facts = []  # whatever a failed batch left behind was rolled back with it
        self.alarms = service.latest_alarms(session=session, keys=keys) if keys else {}

    def _fact(self, inst: Instance, action: str, payload: dict[str, Any]) -> None:
        self.facts.append(
            ledger.Fact(
                f"rule:{inst.cp.plan.id}",
                f"rules.{action}",
                f"source:{inst.key}",
                {"plan": inst.cp.plan.id, "source": inst.key, **payload},
            )
        )

    def flush(self, session: Session, now: datetime) -> None:
        """One flush for the batch's alarms, then their notifications and every ledger fact."""
        items, self.facts = self.facts, []
        self.alarms = {}
        session.flush()
        facts: list[ledger.Fact] = []
        for item in items:
            if isinstance(item, _AlarmNote):
                row = item.row
                facts.append(
                    service.alarm_recorded(
                        session=session, row=row, event=item.event, actor=item.actor, at=now
                    )
                )
                if item.notify is not None:
                    about = {**item.about, "alarm_id": row.id}
                    self.notifier.notify(
                        session=session, at=now, to=item.notify, message=item.message, about=about
                    )
            else:
                facts.append(item)
        service.record_actions(session=session, at=now, facts=facts)

    def run(
        self, session: Session, now: datetime, inst: Instance, call: Call, state: State
    ) -> tuple[State, dict[TimerKey, Timer | None]]:
        """One action; returns the instance state (cases are noted in it) and timer changes.

        Alarms and notifications only touch the engine's own tables and cannot half-fail; actions
        through the actuator and the case engine run in a savepoint so a refusal undoes only them.
        """
        if call.kind in ("alarm", "escalate_alarm", "clear_alarm", "notify"):
            return self._run(session, now, inst, call, state)
        try:
            with session.begin_nested():
                return self._run(session, now, inst, call, state)
        except CityOpsError as exc:
            self._fact(inst, "action_failed", {"kind": call.kind, "reason": exc.message})
            log.warning("plan %s on %s: %s failed: %s", inst.cp.plan.id, inst.key, call.kind, exc)
            return state, {}

    def _run(
        self, session: Session, now: datetime, inst: Instance, call: Call, state: State
    ) -> tuple[State, dict[TimerKey, Timer | None]]:
        plan, a = inst.cp.plan, call.action
        timers: dict[TimerKey, Timer | None] = {}
        if isinstance(a, Actuate):
            thing = a.thing if a.thing is not None else inst.info.actuators.get(a.target or "")
            if thing is None:
                raise CityOpsError(f"no actuator '{a.target}' is bound to {inst.key}")
            cmd = self.actuator.actuate(
                session=session, at=now, thing_id=thing, command=a.command, payload=a.payload,
                reason=f"plan {plan.id} on {inst.key}",
            )  # fmt: skip
            self._fact(inst, "actuate", {"thing": thing, "command": a.command, "id": cmd})
        elif isinstance(a, RaiseAlarm | EscalateAlarm) or call.kind == "clear_alarm":
            timers |= self._alarm(session, now, inst, call, state)
        elif isinstance(a, Notify):
            about = {"plan": plan.id, "source": inst.key}
            self.notifier.notify(session=session, at=now, to=a.to, message=a.message, about=about)
            self._fact(inst, "notify", {"to": a.to, "message": a.message})
        elif isinstance(a, OpenCase):
            state = self._case(session, now, inst, a, state)
        elif call.kind in ("case_verify", "case_recurrence") and self.cases is not None:
            state, timers = self._case_step(session, now, inst, call, state)
        return state, timers

    # -------------------------------------------------------------------------------- cases
    def _case(
        self, session: Session, now: datetime, inst: Instance, a: OpenCase, state: State
    ) -> State:
        if self.cases is None:
            raise CityOpsError("no case port is wired")
        plan, readings = inst.cp.plan.id, ev.evidence(state)
        if state.get("case") is not None and state.get("closed") is None:
            ref = self.cases.add_evidence(
                session=session, at=now, plan=plan, case_id=state["case"], evidence=readings
            )
            self._fact(inst, "case_updated", {"case_id": ref.case_id, "readings": len(readings)})
        else:
            ref = self.cases.open_case(
                session=session, at=now, plan=plan, source=inst.info, category=a.category,
                title=a.title, description=a.description, evidence=readings,
            )  # fmt: skip
            self._fact(inst, "case_opened", {"case_id": ref.case_id, "category": a.category})
        self._link_alarm(session, inst, ref)
        return ev.note_case(state, case_id=ref.case_id, closed_at=None)

    def _case_step(
        self, session: Session, now: datetime, inst: Instance, call: Call, state: State
    ) -> tuple[State, dict[TimerKey, Timer | None]]:
        assert self.cases is not None
        plan, cid, readings = inst.cp.plan.id, call.data["case_id"], ev.evidence(state)
        if call.kind == "case_verify":
            ref = self.cases.verify(
                session=session, at=now, plan=plan, case_id=cid, evidence=readings
            )
            if not ref.closed:
                self._fact(inst, "case_awaiting_feedback", {"case_id": cid})
                return state, {}
            self._fact(inst, "case_verified", {"case_id": cid, "readings": readings})
            closed = ev.note_case(state, case_id=cid, closed_at=now.timestamp())
            return closed, {(plan, inst.key, "verify"): None}
        ref = self.cases.recurrence(
            session=session, at=now, plan=plan, case_id=cid, source=inst.info, evidence=readings
        )
        event = "case_reopened" if ref.case_id != cid else "case_recurrence"
        self._fact(inst, event, {"case_id": cid, "now_case_id": ref.case_id})
        self._link_alarm(session, inst, ref)
        return ev.note_case(state, case_id=ref.case_id, closed_at=None), {}

    def _link_alarm(self, session: Session, inst: Instance, ref: CaseRef) -> None:
        row = self.alarms.get((inst.cp.plan.id, inst.key))
        if row is not None and row.open_key is not None:
            row.case_id = ref.case_id

    # ------------------------------------------------------------------------------- alarms
    def _alarm(
        self, session: Session, now: datetime, inst: Instance, call: Call, state: State
    ) -> dict[TimerKey, Timer | None]:
        plan, a = inst.cp.plan, call.action
        row = self.alarms.get((plan.id, inst.key))
        cur = service.view(row) if row is not None else None
        if isinstance(a, RaiseAlarm):
            msg = a.message or plan.name
            d = lifecycle.raise_alarm(
                cur, severity=a.severity, message=msg, now=now, policy=plan.alarm
            )
        elif isinstance(a, EscalateAlarm):
            d = lifecycle.escalate(cur, to=a.to, now=now, policy=plan.alarm)
        else:
            d = lifecycle.clear(cur, now=now)
        return self._alarm_decided(session, now, inst, row, d, state)

    def alarm_due(
        self, session: Session, now: datetime, inst: Instance
    ) -> dict[TimerKey, Timer | None]:
        """The alarm's check timer fired: escalate or re-notify if nobody acknowledged it."""
        row = self.alarms.get((inst.cp.plan.id, inst.key))
        cur = service.view(row) if row is not None else None
        d = lifecycle.unacknowledged(cur, now=now, policy=inst.cp.plan.alarm)
        return self._alarm_decided(session, now, inst, row, d, {})

    def _alarm_decided(
        self,
        session: Session,
        now: datetime,
        inst: Instance,
        row: Any,
        d: lifecycle.Decision,
        state: State,
    ) -> dict[TimerKey, Timer | None]:
        plan = inst.cp.plan
        key = (plan.id, inst.key, "alarm")
        out = service.write_alarm(
            session=session, current=row, decision=d, plan=plan.id, instance=inst.key,
            jurisdiction_code=inst.info.jurisdiction_code,
        )  # fmt: skip
        if out is None or d.event == "unchanged":
            return {}
        self.alarms[(plan.id, inst.key)] = out
        if state.get("case") is not None and out.open_key is not None:
            out.case_id = out.case_id or state["case"]
        self.facts.append(
            _AlarmNote(
                out,
                d.event,
                f"rule:{plan.id}",
                plan.alarm.notify if d.notify else None,
                f"[{out.severity}] {out.message} ({inst.info.name})",
                {"plan": plan.id, "source": inst.key, "event": d.event},
            )
        )
        if d.event == "cleared":
            return {key: None}
        if d.check_at is not None:
            return {key: Timer(d.check_at.timestamp(), plan.id, inst.key, "alarm")}
        return {}

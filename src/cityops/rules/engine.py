"""The rules engine: binds plans to sources, feeds readings and due timers to the pure evaluator,
and carries out what it decides, one transaction per batch.

Readings are looked up by datastream in a dict built at load time, so a reading on a stream no
plan watches costs one dict miss. A reading no newer than the last one evaluated on its stream
is skipped: a resent batch (HTTP retry, MQTT or NATS redelivery) never fires a rule twice, and
the doors can evaluate before they store. The engine is thread-safe: the doors, the feed and the
timer tick take turns on one lock. States live in memory (loaded from ``rule_state`` at start) and
are written back only when they changed; timers live in ``rule_timer`` so a restart in the middle
of "wait 1 hour" still fires on time: a new engine on the same database picks them up in ``tick``.
"""

from __future__ import annotations

import logging
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cityops.bus.base import Bus
from cityops.bus.memory import Event
from cityops.clock import Clock
from cityops.rules import evaluate as ev
from cityops.rules import service
from cityops.rules.actions import Executor
from cityops.rules.binding import Index, Instance, bind_all
from cityops.rules.detectors import Detector, Facts
from cityops.rules.evaluate import Compiled, Outcome, Reading, State, Timer
from cityops.rules.plans import Disabled, Plan, PlanSet
from cityops.rules.ports import Actuator, CasePort, Directory, Notifier, SourceInfo
from cityops.store.engine import reading, transaction

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    readings: int = 0
    evaluated: int = 0
    fired: int = 0
    actions: int = 0
    timers_fired: int = 0
    traces: list[dict[str, Any]] = field(default_factory=list)


class RulesEngine:
    """Loads plans, processes batches of readings and fires due timers (``tick``)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Clock,
        plans: PlanSet,
        directory: Directory,
        actuator: Actuator,
        notifier: Notifier,
        cases: CasePort | None = None,
        bus: Bus | None = None,
        timer_batch: int = 1000,
    ) -> None:
        self.sessions, self.clock, self.bus = sessions, clock, bus
        self.timer_batch = timer_batch
        self.problems: list[Disabled] = []
        self.directory = directory
        self.executor = Executor(actuator=actuator, notifier=notifier, cases=cases)
        self.seen: dict[int, float] = {}  # datastream → time of its newest evaluated reading
        self.lock = threading.RLock()
        self.plans = plans
        self.compiled, self.disabled = _compile(plans)
        self.instances, self.index = self._bind_all()
        with transaction(sessions) as session:
            self.states: dict[tuple[str, str], State] = service.load_states(session=session)
            self._start_schedules(session)

    # ------------------------------------------------------------------------------ binding
    def reload(self, plans: PlanSet) -> tuple[int, int]:
        """Take a new set of plans (an edited plan file) and bind it; (added, removed) instances.

        A plan whose definition is unchanged keeps its instances' state; a changed one starts
        them afresh (its trigger may have other parts now); a plan that is gone stops.
        """
        with self.lock:
            before = {pid: cp.plan for pid, cp in self.compiled.items()}
            self.plans = plans
            self.compiled, self.disabled = _compile(plans)
            changed = {pid for pid, plan in before.items() if self.plan(pid) != plan}
            for key in [k for k in self.states if k[0] in changed]:
                del self.states[key]
            return self.rebind()

    def _bind_all(self) -> tuple[dict[tuple[str, str], Instance], Index]:
        detecting = any(cp.detectors for cp in self.compiled.values())
        with reading(self.sessions) if detecting else nullcontext() as session:

            def lookup(det: Detector, info: SourceInfo) -> Facts:
                assert session is not None
                return det.facts(session, info)

            found = bind_all(self.compiled, self.directory, lookup if detecting else None)
        self.problems = found.problems
        return found.instances, found.index

    def rebind(self) -> tuple[int, int]:
        """Bind the plans again to the sources the directory knows now; (added, removed).

        For devices added, moved or removed while running. An instance that stays keeps its
        state and timers; a new one starts fresh; a removed one stops (its timers are dropped
        when they come due, its open alarm stays for a person to clear).
        """
        with self.lock:
            instances, index = self._bind_all()
            added = len(instances.keys() - self.instances.keys())
            removed = len(self.instances.keys() - instances.keys())
            self.instances, self.index = instances, index
            with transaction(self.sessions) as session:
                self._start_schedules(session)
        return added, removed

    def _start_schedules(self, session: Session) -> None:
        pending = {(t.plan, t.instance, t.kind) for t in service.pending_timers(session=session)}
        now = self.clock.now().timestamp()
        timers = [
            ev.schedule_next(inst.cp, inst.key, now)
            for (pid, key), inst in self.instances.items()
            if inst.cp.plan.schedule is not None and (pid, key, "schedule") not in pending
        ]
        service.set_timers(session=session, timers=timers)

    def plan(self, plan_id: str) -> Plan | None:
        cp = self.compiled.get(plan_id)
        return cp.plan if cp else None

    # ---------------------------------------------------------------------------- readings
    def process(self, readings: list[Reading]) -> BatchResult:
        """Evaluate a batch of readings and act on the outcome, in one transaction."""
        with self.lock:
            return self._process(readings)

    def _process(self, readings: list[Reading]) -> BatchResult:
        now = self.clock.now()
        nowts = now.timestamp()
        pending: dict[tuple[str, str], State] = {}
        outcomes: list[tuple[Instance, Outcome]] = []
        index, states, seen = self.index, self.states, self.seen
        moved: dict[int, float] = {}  # applied to ``seen`` after the commit, like the states
        evaluated = 0
        for r in readings:
            ds = r.datastream_id
            binds = index.get(ds)
            if binds is None:
                continue
            t = r.time.timestamp()
            last = moved.get(ds, seen.get(ds))
            if last is not None and t <= last:
                continue
            moved[ds] = t
            for inst, name in binds:
                k = (inst.cp.plan.id, inst.key)
                st = pending.get(k) or states.get(k) or ev.initial(inst.cp, inst.key)
                out = ev.on_reading(inst.cp, st, name, t, r.value, nowts, inst.facts)
                evaluated += 1
                if out.changed:
                    pending[k] = out.state
                if out.calls or out.timers or out.cancel or out.trace:
                    outcomes.append((inst, out))
        result = BatchResult(readings=len(readings), evaluated=evaluated)
        if pending or outcomes:
            self._commit(now, pending, outcomes, [], result)
        seen.update(moved)
        return result

    # ------------------------------------------------------------------------------ timers
    def tick(self, limit: int | None = None) -> BatchResult:
        """Fire every timer due by the clock's now (several rounds if many are due)."""
        with self.lock:
            return self._tick(limit)

    def _tick(self, limit: int | None) -> BatchResult:
        total = BatchResult()
        limit = limit or self.timer_batch
        while True:
            now = self.clock.now()
            with transaction(self.sessions) as session:
                due = service.due_timers(session=session, now=now, limit=limit)
                pending: dict[tuple[str, str], State] = {}
                outcomes: list[tuple[Instance, Outcome]] = []
                alarm_checks: list[Timer] = []
                for timer in due:
                    if timer.kind == "alarm":
                        alarm_checks.append(timer)
                        continue
                    inst = self.instances.get((timer.plan, timer.instance))
                    if inst is None:  # the plan or source is gone: drop the timer
                        continue
                    k = (timer.plan, timer.instance)
                    st = pending.get(k) or self.states.get(k) or ev.initial(inst.cp, inst.key)
                    out = ev.on_timer(inst.cp, st, timer, now.timestamp())
                    if out.changed:
                        pending[k] = out.state
                    outcomes.append((inst, out))
                total.timers_fired += len(due)
                self._apply(session, now, pending, outcomes, alarm_checks, total)
                events: list[Event] = session.info.pop("events", [])
            self.states.update(pending)
            self._publish(events)
            if len(due) < limit:
                return total

    # ------------------------------------------------------------------------------ commit
    def _commit(
        self,
        now: datetime,
        pending: dict[tuple[str, str], State],
        outcomes: list[tuple[Instance, Outcome]],
        alarm_checks: list[Timer],
        result: BatchResult,
    ) -> None:
        with transaction(self.sessions) as session:
            self._apply(session, now, pending, outcomes, alarm_checks, result)
            events: list[Event] = session.info.pop("events", [])
        self.states.update(pending)  # only after the commit: a rollback leaves the cache as it was
        self._publish(events)

    def _apply(
        self,
        session: Session,
        now: datetime,
        pending: dict[tuple[str, str], State],
        outcomes: list[tuple[Instance, Outcome]],
        alarm_checks: list[Timer],
        result: BatchResult,
    ) -> None:
        timers: dict[tuple[str, str, str], Timer | None] = {}
        traces: list[dict[str, Any]] = []
        touched = {(i.cp.plan.id, i.key) for i, o in outcomes if o.calls}
        touched |= {(t.plan, t.instance) for t in alarm_checks}
        self.executor.prepare(session, sorted(touched))
        for inst, out in outcomes:
            pid = inst.cp.plan.id
            for kind in out.cancel:
                timers[(pid, inst.key, kind)] = None
            for tm in out.timers:
                timers[(tm.plan, tm.instance, tm.kind)] = tm
            if out.trace is not None:
                traces.append(out.trace)
                result.fired += out.trace["event"] in ("fire", "recheck", "schedule")
            for call in out.calls:
                k = (pid, inst.key)
                state = pending.get(k) or self.states.get(k) or out.state
                state, more = self.executor.run(session, now, inst, call, state)
                pending[k] = state
                timers.update(more)
                result.actions += 1
        for check in alarm_checks:
            owner = self.instances.get((check.plan, check.instance))
            if owner is not None:
                timers.update(self.executor.alarm_due(session, now, owner))
        service.save_states(session=session, states=pending, at=now)
        service.cancel_timers(session=session, keys=[k for k, t in timers.items() if t is None])
        service.set_timers(session=session, timers=[t for t in timers.values() if t is not None])
        service.add_firings(session=session, traces=traces, at=now)
        self.executor.flush(session, now)
        result.traces += traces

    def _publish(self, events: list[Event]) -> None:
        if self.bus is not None:
            for e in events:
                self.bus.publish(e)


def _compile(plans: PlanSet) -> tuple[dict[str, Compiled], list[Disabled]]:
    """The enabled plans compiled by id, and every disabled one with its reason."""
    compiled: dict[str, Compiled] = {}
    disabled = list(plans.disabled)
    for plan in plans.plans:
        if plan.enabled:
            compiled[plan.id] = Compiled(plan)
        else:
            disabled.append(Disabled(plan.id, "enabled: false in the plan file"))
    return compiled, disabled


def now_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)

"""Alarm, plan and firing routes: thin over the service; the request's session is the transaction.

The running engine (if the process has one) is ``ctx.extras["rules_engine"]``; without one the
plans are loaded from the files so operators still see what is configured and what is disabled.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query

from cityops.api.context import AppContext
from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.policy import RulesAction, require_rules_action
from cityops.errors import NotFound
from cityops.rules import service
from cityops.rules.engine import RulesEngine
from cityops.rules.plans import SEVERITIES, Disabled, PlanSet, load_plans
from cityops.rules.schemas import (
    AcknowledgeCreate,
    AlarmPage,
    AlarmRead,
    DisabledRead,
    FiringRead,
    PlanRead,
    PlansPage,
)

router = APIRouter(tags=["rules"])
ENGINE_KEY = "rules_engine"
PLANS_KEY = "rules_plans"
State = Annotated[str | None, Query(pattern="^(active|acknowledged|cleared)$")]
Severity = Annotated[str | None, Query(pattern=f"^({'|'.join(SEVERITIES)})$")]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _engine(ctx: AppContext) -> RulesEngine | None:
    engine = ctx.extras.get(ENGINE_KEY)
    return engine if isinstance(engine, RulesEngine) else None


def _plan_set(ctx: AppContext) -> tuple[PlanSet, list[Disabled], dict[str, int] | None]:
    engine = _engine(ctx)
    if engine is not None:
        counts: dict[str, int] = {}
        for pid, _ in engine.instances:
            counts[pid] = counts.get(pid, 0) + 1
        return engine.plans, [*engine.disabled, *engine.problems], counts
    plans = ctx.extras.get(PLANS_KEY)
    if not isinstance(plans, PlanSet):
        path = ctx.settings.rules_plans_path
        plans = ctx.extras[PLANS_KEY] = load_plans([path] if path else None)
    off = [Disabled(p.id, "enabled: false in the plan file") for p in plans.plans if not p.enabled]
    return plans, [*plans.disabled, *off], None


@router.get("/alarms", response_model=AlarmPage)
def alarms(
    session: SessionDep,
    user: CurrentUser,
    state: State = None,
    severity: Severity = None,
    plan: str | None = None,
    limit: Limit = 200,
) -> AlarmPage:
    """Alarms in your jurisdiction, newest first; filter by state, severity and plan."""
    require_rules_action(user, RulesAction.read_alarms)
    scope = None if user.is_city_wide else (user.scope_code or "-")
    rows = service.list_alarms(
        session=session, state=state, severity=severity, plan=plan, scope=scope, limit=limit
    )
    return AlarmPage(items=[AlarmRead.model_validate(a) for a in rows])


@router.post("/alarms/{alarm_id}/acknowledge", response_model=AlarmRead)
def acknowledge(
    alarm_id: int,
    ctx: Ctx,
    session: SessionDep,
    user: CurrentUser,
    body: AcknowledgeCreate | None = None,
) -> AlarmRead:
    """告警确认: you take the alarm; it stops re-notifying and escalating."""
    require_rules_action(user, RulesAction.acknowledge_alarm)
    alarm = service.get_alarm(session=session, alarm_id=alarm_id)
    if not user.covers(alarm.jurisdiction_code):
        raise NotFound(f"alarm {alarm_id} not found", code="alarm_not_found")
    del body
    out = service.acknowledge(
        session=session, alarm_id=alarm_id, who=user.actor, at=ctx.clock.now()
    )
    return AlarmRead.model_validate(out)


@router.get("/plans", response_model=PlansPage)
def plans(ctx: Ctx, user: CurrentUser) -> PlansPage:
    """Every 预案: the loaded ones with their parameters, and the disabled ones with the reason."""
    require_rules_action(user, RulesAction.read_plans)
    ps, disabled, counts = _plan_set(ctx)
    items = [
        PlanRead(
            id=p.id,
            name=p.name,
            description=p.description,
            enabled=p.enabled,
            unit=p.unit,
            params=p.params,
            kind="trigger" if p.trigger is not None else "schedule",
            instances=None if counts is None else counts.get(p.id, 0),
            definition=p.model_dump(mode="json", by_alias=True, exclude_none=True),
        )
        for p in ps.plans
    ]
    return PlansPage(
        items=items, disabled=[DisabledRead(name=d.name, reason=d.reason) for d in disabled]
    )


@router.get("/rules/firings", response_model=list[FiringRead])
def firings(
    session: SessionDep,
    user: CurrentUser,
    source: str | None = None,
    plan: str | None = None,
    limit: Limit = 100,
) -> list[FiringRead]:
    """Why plans acted: each firing's trace (trigger values, conditions, actions), newest first."""
    require_rules_action(user, RulesAction.read_firings)
    rows = service.firings(session=session, source=source, plan=plan, limit=limit)
    return [
        FiringRead(
            id=f.id,
            at=f.at,
            plan_id=f.plan_id,
            source=f.instance,
            event=f.event,
            trace=json.loads(f.trace),
        )
        for f in rows
    ]

"""The process's rules engine, built once from the app context and the ports the lead wires."""

from __future__ import annotations

from collections.abc import Mapping

from cityops.api.context import AppContext
from cityops.cases.runtime import get_rules
from cityops.rules.api import ENGINE_KEY
from cityops.rules.caseport import IntakeCasePort
from cityops.rules.engine import RulesEngine
from cityops.rules.plans import load_plans
from cityops.rules.ports import Actuator, Directory, Notifier
from cityops.store.engine import transaction


def start_engine(
    ctx: AppContext,
    *,
    directory: Directory,
    actuator: Actuator,
    notifier: Notifier,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> RulesEngine:
    """Load the plans (``CITYOPS_RULES_PLANS_PATH`` or the shipped ones), bind them, keep it.

    Cases go through the case engine's intake; the API's plan and alarm routes find the engine in
    ``ctx.extras``. Call ``engine.process(readings)`` for each batch and ``engine.tick()`` on a
    timer (every few seconds).
    """
    path = ctx.settings.rules_plans_path
    with transaction(ctx.sessions) as session:  # the map index, read once (short transaction)
        case_rules = get_rules(ctx, session)
    engine = RulesEngine(
        sessions=ctx.sessions,
        clock=ctx.clock,
        plans=load_plans([path] if path else None, overrides=overrides),
        directory=directory,
        actuator=actuator,
        notifier=notifier,
        cases=IntakeCasePort(case_rules),
        bus=ctx.bus,
        timer_batch=ctx.settings.rules_timer_batch,
    )
    ctx.extras[ENGINE_KEY] = engine
    return engine

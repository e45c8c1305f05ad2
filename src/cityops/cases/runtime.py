"""The process's loaded case rules, built on first use and dropped when the map changes."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from cityops.api.context import AppContext
from cityops.cases.rules import CaseRules, build_rules
from cityops.geo import service as geo_service

_lock = threading.Lock()
KEY = "case_rules"


def get_rules(ctx: AppContext, session: Session) -> CaseRules:
    rules = ctx.extras.get(KEY)
    if rules is None:
        with _lock:
            rules = ctx.extras.get(KEY)
            if rules is None:
                index = geo_service.get_index(ctx, session)
                rules = build_rules(settings=ctx.settings, clock=ctx.clock, index=index)
                ctx.extras[KEY] = rules
    assert isinstance(rules, CaseRules)
    return rules


def invalidate(ctx: AppContext) -> None:
    """Forget the rules and the map index (after an import or a boundary change)."""
    ctx.extras.pop(KEY, None)
    geo_service.invalidate_index(ctx)

"""The process's loaded case rules, built on first use and dropped when the map changes."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session

from cityops.api.context import AppContext
from cityops.cases import understand
from cityops.cases.rules import CaseRules, build_rules
from cityops.geo import service as geo_service

log = logging.getLogger(__name__)
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


def _warm(ctx: AppContext) -> None:
    try:
        with ctx.sessions() as session:
            rules = get_rules(ctx, session)
            understand.gazetteer(rules, session)
        understand.classifier(rules)
    except Exception:  # a broken corpus or map must not stop the server; requests report it
        log.exception("warming the text classifier and gazetteer failed")


def start_warm_up(ctx: AppContext) -> threading.Thread:
    """Load the rules, the gazetteer and the text classifier in the background, so the first
    resident report after a deploy is not the one that waits ~7 s for the model to train."""
    thread = threading.Thread(target=_warm, args=(ctx,), daemon=True, name="warm-up")
    thread.start()
    return thread

"""The escalation scheduler as a background thread: one pass every ``interval`` seconds.

Each pass is one transaction; its events are published after the commit. Several processes may
run it at once on PostgreSQL (due cases are taken with SKIP LOCKED).
"""

from __future__ import annotations

import logging

from cityops.api.context import AppContext, unit_of_work
from cityops.cases.escalation import run_escalations
from cityops.cases.runtime import get_rules
from cityops.periodic import Periodic

log = logging.getLogger(__name__)


def run_once(ctx: AppContext) -> list[int]:
    """One pass over due cases; returns the ids acted on."""
    with unit_of_work(ctx) as session:
        return run_escalations(session=session, rules=get_rules(ctx, session), now=ctx.clock.now())


class EscalationScheduler(Periodic):
    def __init__(self, ctx: AppContext, *, interval: float = 30.0) -> None:
        super().__init__("escalation", interval)
        self.ctx = ctx

    def step(self) -> list[int]:
        acted = run_once(self.ctx)
        if acted:
            log.info("escalation pass acted on %d cases", len(acted))
        return acted

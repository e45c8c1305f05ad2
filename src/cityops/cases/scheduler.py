"""The escalation scheduler as a background thread: one pass every ``interval`` seconds.

Each pass is one transaction; its events are published after the commit. Several processes may
run it at once on PostgreSQL (due cases are taken with SKIP LOCKED).
"""

from __future__ import annotations

import logging
import threading

from cityops.api.context import AppContext, unit_of_work
from cityops.cases.escalation import run_escalations
from cityops.cases.runtime import get_rules

log = logging.getLogger(__name__)


def run_once(ctx: AppContext) -> list[int]:
    """One pass over due cases; returns the ids acted on."""
    with unit_of_work(ctx) as session:
        return run_escalations(session=session, rules=get_rules(ctx, session), now=ctx.clock.now())


class EscalationScheduler:
    def __init__(self, ctx: AppContext, *, interval: float = 30.0) -> None:
        self.ctx = ctx
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="escalation")

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                acted = run_once(self.ctx)
                if acted:
                    log.info("escalation pass acted on %d cases", len(acted))
            except Exception:  # keep running; the next pass retries
                log.exception("escalation pass failed")
            self._stop.wait(self.interval)

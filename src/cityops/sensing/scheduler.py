"""Sensing upkeep in a background thread: rollup and compaction every few seconds; partitions,
retention hourly.

Each step is its own transaction, the rollup one of at most ``sensing_rollup_rows`` raw rows (the
writer lock is not held long while a door waits to record a fan command). Several processes may
run it on PostgreSQL: the rollup serialises on its advisory lock, and purging twice is harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from cityops.api.context import AppContext, unit_of_work
from cityops.periodic import Periodic
from cityops.sensing import recent, timeseries

log = logging.getLogger(__name__)


def run_rollup(ctx: AppContext, *, fold_latest: bool = False) -> int:
    """Fold new raw rows into the aggregates; returns how many were folded."""
    with unit_of_work(ctx) as session:
        return timeseries.rollup(
            session=session,
            max_rows=ctx.settings.sensing_rollup_rows,
            fold_latest=fold_latest,
            now=ctx.clock.now(),
        )


def run_compaction(ctx: AppContext) -> int:
    """Move recent readings left waiting into ``observation`` (SQLite: ``sensing.recent``),
    a table a transaction; the rows moved. A busy door compacts as it goes: this is for
    readings that came in slowly, or a door that stopped."""
    moved = 0
    settings, clock = ctx.settings, ctx.clock
    while True:  # a cycle is at most RECENT_PARTS steps; then readings wait again
        with unit_of_work(ctx, reads_first=True) as session:
            if not recent.due(session=session, settings=settings, now=clock.now(), idle=True):
                return moved
        with unit_of_work(ctx) as session:
            moved += recent.compact_step(
                session=session, settings=settings, now=clock.now(), idle=True
            )


def run_partitions(ctx: AppContext) -> None:
    """Make today's and tomorrow's partitions (PostgreSQL) before a batch needs them.

    Creating a partition locks the whole observation table until commit; done here, in its own
    short transaction, the intake rarely has to do it in the middle of a busy batch.
    """
    today = ctx.clock.now().date()
    with unit_of_work(ctx) as session:
        timeseries.ensure_partitions(session, [today, today + timedelta(days=1)])


def run_purge(ctx: AppContext) -> timeseries.Purged:
    """Drop what is past the retention settings."""
    with unit_of_work(ctx) as session:
        return timeseries.purge(session=session, now=ctx.clock.now(), settings=ctx.settings)


class SensingUpkeep(Periodic):
    """Rollup every ``interval`` seconds (until caught up), purge every ``purge_every``."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        interval: float = 5.0,
        purge_every: timedelta = timedelta(hours=1),
        fold_latest: bool = False,
    ) -> None:
        super().__init__("sensing-upkeep", interval)
        self.ctx = ctx
        self.purge_every = purge_every
        self.fold_latest = fold_latest
        self._last_purge: datetime | None = None

    def step(self) -> int:
        """One pass: fold until caught up, purge when due; returns rows folded."""
        folded = 0
        while not self.stopping:
            n = run_rollup(self.ctx, fold_latest=self.fold_latest)
            folded += n
            if n == 0:
                break
        if not self.stopping:
            run_compaction(self.ctx)
        now = self.ctx.clock.now()
        if self._last_purge is None or now - self._last_purge >= self.purge_every:
            run_partitions(self.ctx)
            purged = run_purge(self.ctx)
            self._last_purge = now
            if purged.raw or purged.partitions_dropped:
                log.info("sensing retention: %s", purged)
        return folded

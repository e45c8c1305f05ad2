"""The sensing → rules → action loop of a running process (一张网 to 一网统管).

The doors let the rules engine react to each batch before they store it (``sensing.door``);
readings stored by other ways reach it through the bus; the engine's actuator commands are
recorded by the sensing layer, its cases go through the case engine, its notifications onto the
bus; aggregates and retention run beside it. ``serve`` and ``demo`` start it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cityops.api.context import AppContext
from cityops.rules.engine import RulesEngine
from cityops.rules.feed import RulesFeed
from cityops.rules.ports import BusNotifier
from cityops.rules.runtime import start_engine
from cityops.runtime import settle_heap
from cityops.sensing import catalogue
from cityops.sensing.directory import Rebinder, SensingActuator, SensingDirectory
from cityops.sensing.door import REACTOR
from cityops.sensing.scaleout import queues_work
from cityops.sensing.scheduler import SensingUpkeep
from cityops.store.engine import reading


@dataclass
class Automation:
    upkeep: SensingUpkeep
    engine: RulesEngine | None = None
    feed: RulesFeed | None = None

    extras: dict[str, object] | None = None

    def stop(self) -> None:
        if self.extras is not None and self.extras.get(REACTOR) is self.engine:
            del self.extras[REACTOR]  # the doors store without reacting from now on
        if self.feed is not None:
            self.feed.stop()
        self.upkeep.stop()


def start_automation(
    ctx: AppContext,
    *,
    tick_seconds: float = 1.0,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> Automation:
    """Bind the plans to the datastreams there are now and start evaluating and upkeep.

    ``overrides`` sets plan parameters by plan id (the demo shortens the septic plan's hour).
    On a scale-out bus the workers own the rules (``sensing.scaleout``); here only upkeep runs.
    """
    upkeep = SensingUpkeep(ctx)
    upkeep.start()
    if queues_work(ctx.bus):
        return Automation(upkeep=upkeep)
    directory = SensingDirectory(ctx.sessions)
    engine = start_engine(
        ctx,
        directory=directory,
        actuator=SensingActuator(),
        notifier=BusNotifier(),
        overrides=overrides,
    )
    path = ctx.settings.rules_plans_path
    rebind = Rebinder(  # new devices and edited plan files take effect while running
        ctx.sessions, directory, engine, plan_paths=[path] if path else None, overrides=overrides
    )
    feed = RulesFeed(engine, ctx.bus, tick_seconds=tick_seconds, watch=rebind).start()
    ctx.extras[REACTOR] = engine  # the doors (sensing.door) let it react before they store
    with reading(ctx.sessions) as session:  # the doors' catalogue, loaded now and frozen with
        catalogue.current(session=session)  # the rest, not by the first batch to come in
    settle_heap()
    return Automation(upkeep=upkeep, engine=engine, feed=feed, extras=ctx.extras)

"""The sensing → rules → action loop of a running process (一张网 to 一网统管).

Stored readings reach the rules engine through the bus; the engine's actuator commands are
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
from cityops.sensing.directory import SensingActuator, SensingDirectory
from cityops.sensing.scheduler import SensingUpkeep


@dataclass
class Automation:
    engine: RulesEngine
    feed: RulesFeed
    upkeep: SensingUpkeep
    directory: SensingDirectory

    def stop(self) -> None:
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
    """
    directory = SensingDirectory(ctx.sessions)
    engine = start_engine(
        ctx,
        directory=directory,
        actuator=SensingActuator(),
        notifier=BusNotifier(),
        overrides=overrides,
    )
    feed = RulesFeed(engine, ctx.bus, tick_seconds=tick_seconds).start()
    upkeep = SensingUpkeep(ctx)
    upkeep.start()
    return Automation(engine=engine, feed=feed, upkeep=upkeep, directory=directory)

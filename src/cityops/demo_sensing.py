"""The demo's sensing network: simulated devices, the rules loop, a gas build-up to watch, and
the river stations with a discharge on 临江河.

Timings are shortened so the seed's chain plays out in minutes instead of hours: the septic plan
rechecks after 3 minutes (1 hour in production) and machine-verifies after 2 minutes of normal
readings (30 minutes), and simulated gas builds up with a 4-minute time constant (20). The demo
starts one leak the fan cannot clear, so a watcher sees fan → alarm → red alarm → case.
The river feed replays the last 48 hours (an hour every 5 s) into the door with a discharge on
临江河 six hours in: the river plans detect it, file a 水域不洁 case for the section's department
and chief, the simulated worker handles it, and 智能核查 closes it once the water is back to its
target for the plan's hold (checked every 20 s instead of 10 min). Everything else is as shipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rich.console import Console

from cityops.api.context import AppContext
from cityops.automation import Automation, start_automation
from cityops.sim.device_incidents import IncidentParams
from cityops.sim.device_run import DeviceSimulation, start_device_simulation
from cityops.sim.devices import DeviceSimulator, SimConfig
from cityops.sim.river_feed import RiverSimulator, start_river_feed, station_specs

log = logging.getLogger(__name__)

RIVER_PLANS = (
    "river-class-drop", "river-cusum-nh3n-do", "river-cusum-conductivity-turbidity",
    "river-cusum-organic-do", "river-black-odorous", "river-target-breach",
)  # fmt: skip
DEMO_PLAN_OVERRIDES: dict[str, dict[str, object]] = {
    "septic-ch4": {"recheck_after": "3m", "hold": "2m"},
    # A river case the worker has just reported handled is checked every 20 s, not 10 min.
    **{plan: {"verify_every": "20s"} for plan in RIVER_PLANS},
}


@dataclass
class DemoSensing:
    devices: DeviceSimulation[DeviceSimulator]
    automation: Automation
    river: DeviceSimulation[RiverSimulator] | None = None

    def stop(self) -> None:
        if self.river is not None:
            self.river.stop()
        self.devices.stop()
        self.automation.stop()


def start_sensing(ctx: AppContext, count: int, console: Console) -> DemoSensing | None:
    """Devices, then the rules bound to them, then one gas build-up; None (and why) on error."""
    try:
        config = SimConfig(params=IncidentParams(gas_rise_minutes=4.0))
        devices = start_device_simulation(ctx, count=count, config=config)
        automation = start_automation(ctx, overrides=DEMO_PLAN_OVERRIDES)
    except Exception as exc:  # the case demo goes on without sensing
        log.exception("demo sensing failed to start")
        console.print(f"[yellow]sensing devices not started:[/yellow] {exc}")
        return None
    sim = devices.runner.sim
    tank = next((d.key for d in sim.devices if d.kind == "gas_detector"), None)
    if tank is not None:
        sim.trigger("gas_buildup", tank, extra={"fan_residual": 0.6})
    bound = len(automation.engine.index) if automation.engine else 0
    console.print(
        f"simulating {len(sim.devices)} sensing devices; {bound} datastreams watched by plans"
        + (f"; gas build-up started in {tank}" if tank else "")
        + " (demo timings: septic recheck after 3 min, hold 2 min)"
    )
    return DemoSensing(devices, automation, _start_river(ctx, console))


def _start_river(ctx: AppContext, console: Console) -> DeviceSimulation[RiverSimulator] | None:
    """The stations' feed, after the rules are bound to them; None (and why) without stations."""
    with ctx.sessions() as session:
        stations = station_specs(session=session)
    if not stations:
        console.print("[yellow]no river stations: the water-quality feed is off[/yellow]")
        return None
    feed = start_river_feed(ctx, stations)
    console.print(
        f"{len(stations)} water-quality stations replaying 48 h; a discharge on 临江河 starts "
        "6 simulated hours in (about 30 s) → 河湖事件 case → 智能核查 when the water recovers"
    )
    return feed

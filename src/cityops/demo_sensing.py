"""The demo's sensing network: simulated devices, the rules loop, and a gas build-up to watch.

Timings are shortened so the seed's chain plays out in minutes instead of hours: the septic plan
rechecks after 3 minutes (1 hour in production) and machine-verifies after 2 minutes of normal
readings (30 minutes), and simulated gas builds up with a 4-minute time constant (20). The demo
starts one leak the fan cannot clear, so a watcher sees fan → alarm → red alarm → case.
Everything else is as shipped.
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

log = logging.getLogger(__name__)

DEMO_PLAN_OVERRIDES: dict[str, dict[str, object]] = {
    "septic-ch4": {"recheck_after": "3m", "hold": "2m"},
}


@dataclass
class DemoSensing:
    devices: DeviceSimulation[DeviceSimulator]
    automation: Automation

    def stop(self) -> None:
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
    return DemoSensing(devices, automation)

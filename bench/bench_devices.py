"""Device simulator: generated readings per second (pure numpy, no database, no broker).

Figures: ``generate`` — ``DeviceSimulator.advance`` over six simulated hours for
``BENCH_DEVICES`` devices (default 20,000, every kind in turn, default incident rates and faults);
``bulk_encode`` — the same readings turned into MQTT bulk payloads (JSON, 10,000 rows each).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import console, machine, print_machine, save
from cityops.sim.device_kinds import load_kinds
from cityops.sim.device_sinks import bulk_payloads
from cityops.sim.devices import Device, DeviceSimulator

START = datetime(2026, 11, 24, tzinfo=UTC)


def fleet(n: int) -> list[Device]:
    kinds = list(load_kinds().kinds.values())
    out, ds = [], 0
    for i in range(n):
        kind = kinds[i % len(kinds)]
        streams = {}
        for p in kind.properties:
            ds += 1
            streams[p.key] = ds
        out.append(Device(f"{kind.key}:{i}", kind.key, f"site{i // len(kinds)}", streams))
    return out


def main() -> None:
    n = int(os.environ.get("BENCH_DEVICES", "20000"))
    devices = fleet(n)
    sim = DeviceSimulator(devices, start=START, seed=1)
    t0 = time.perf_counter()
    readings = sim.advance(START + timedelta(hours=6))
    took = time.perf_counter() - t0
    t1 = time.perf_counter()
    payloads = bulk_payloads(readings)
    encode = time.perf_counter() - t1
    results: dict[str, Any] = {
        "machine": machine(),
        "devices": n,
        "readings": len(readings),
        "generate_per_s": round(len(readings) / took),
        "bulk_encode_per_s": round(len(readings) / encode),
        "bulk_messages": len(payloads),
    }
    console.print(
        f"device simulator: {n} devices, {len(readings):,} readings in {took:.2f} s = "
        f"{results['generate_per_s']:,} readings/s generated; bulk JSON "
        f"{results['bulk_encode_per_s']:,} readings/s"
    )
    save("bench_devices", results)


if __name__ == "__main__":
    print_machine(machine())
    main()

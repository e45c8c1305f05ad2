"""What the river simulator knows of a station, and the properties it reports (pure).

A ``StationSpec`` is the simulator's own view of a monitoring station (自动监测站): where it sits
on its river (km from the source, for ordering downstream), the section's target class, the
water body (TP has lake limits), and which datastream each observed property goes to. It does
not depend on the station tables, so the generator runs without a database; the caller maps its
stations (``river_station`` rows and their Datastreams) onto it.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from cityops.scenarios.river.standards import STANDARD, WaterBody

# The observed properties a station reports (the shared names of issue 6), in array order.
PROPERTIES: tuple[str, ...] = (
    "ph",
    "do",
    "codmn",
    "cod",
    "bod5",
    "nh3n",
    "tp",
    "tn",
    "conductivity",
    "turbidity",
    "transparency",
    "orp",
    "water_level",
    "flow",
    "rainfall",
)
INDEX: dict[str, int] = {p: i for i, p in enumerate(PROPERTIES)}
UNITS: dict[str, str] = {
    "ph": "1",
    "conductivity": "µS/cm",
    "turbidity": "NTU",
    "transparency": "cm",
    "orp": "mV",
    "water_level": "m",
    "flow": "m³/s",
    "rainfall": "mm/h",
} | {p: "mg/L" for p in ("do", "codmn", "cod", "bod5", "nh3n", "tp", "tn")}

# Physical plausibility: GB 3838 items and the black-odorous indicators from gb3838.yaml; the
# rest are local defaults (wide bounds no river reading can pass, not limits).
_BO = STANDARD.black_odorous.indicators
RANGES: dict[str, tuple[float, float]] = {
    k: (STANDARD.items[k].min, STANDARD.items[k].max)
    for k in ("ph", "do", "codmn", "cod", "bod5", "nh3n", "tp", "tn")
} | {
    "transparency": (_BO["transparency_cm"].min, _BO["transparency_cm"].max),
    "orp": (_BO["orp"].min, _BO["orp"].max),
    "conductivity": (0.0, 100_000.0),  # local default
    "turbidity": (0.0, 4_000.0),  # local default
    "water_level": (0.0, 200.0),  # local default
    "flow": (0.0, 150_000.0),  # local default: above the Yangtze's record flood
    "rainfall": (0.0, 300.0),  # local default
}
LOW = np.array([RANGES[p][0] for p in PROPERTIES], np.float32)
HIGH = np.array([RANGES[p][1] for p in PROPERTIES], np.float32)

CLASSES = ("I", "II", "III", "IV", "V")
FLOW_PER_KM = 0.12  # local default m³/s per km: 临江河 (88 km, ~655 km²) carries ~10 m³/s


@dataclass(frozen=True, slots=True)
class StationSpec:
    """A station on a river: ``km`` from the river's source; ``target_class`` "I".."V";
    ``datastreams`` maps an observed property to its datastream id (for the door adapter);
    ``mean_flow`` in m³/s (default: ``FLOW_PER_KM`` × km); ``basin`` shares one rainfall series
    (default: the river)."""

    code: str
    river_code: str
    km: float
    target_class: str = "III"
    water_body: WaterBody = WaterBody.river
    datastreams: Mapping[str, int] = field(default_factory=dict)
    mean_flow: float | None = None
    basin: str | None = None

    def __post_init__(self) -> None:
        if self.target_class not in CLASSES:
            raise ValueError(f"{self.code}: target class {self.target_class!r} not in {CLASSES}")
        if self.km < 0:
            raise ValueError(f"{self.code}: km must be ≥ 0")
        unknown = set(self.datastreams) - set(PROPERTIES)
        if unknown:
            raise ValueError(f"{self.code}: unknown observed properties {sorted(unknown)}")

    @property
    def target(self) -> int:
        """The target class as 1..5."""
        return CLASSES.index(self.target_class) + 1

    @property
    def basin_key(self) -> str:
        return self.basin or self.river_code

    @property
    def flow(self) -> float:
        """Mean flow (m³/s) at the station."""
        return self.mean_flow if self.mean_flow is not None else FLOW_PER_KM * max(self.km, 1.0)


def key_of(text: str) -> int:
    """A stable 32-bit key of a code, for seeding (``hash`` differs between processes)."""
    return zlib.crc32(text.encode())


class FlowLine:
    """Mean flow along each river by km: between its stations' given flows (flat beyond them),
    or ``FLOW_PER_KM`` × km on a river whose stations give none."""

    def __init__(self, stations: Sequence[StationSpec]) -> None:
        by_river: dict[str, list[StationSpec]] = {}
        for s in stations:
            if s.mean_flow is not None:
                by_river.setdefault(s.river_code, []).append(s)
        self.rivers: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
        for river, members in by_river.items():
            members.sort(key=lambda s: s.km)
            self.rivers[river] = (
                np.array([s.km for s in members]),
                np.array([s.flow for s in members]),
            )

    def at(self, river: str, km: float) -> float:
        if river not in self.rivers:
            return FLOW_PER_KM * max(km, 1.0)
        kms, flows = self.rivers[river]
        return float(np.interp(km, kms, flows))

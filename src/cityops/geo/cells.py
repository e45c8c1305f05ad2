"""A fixed lat/lng cell key (about 55 m × 48 m in Chongqing) for "what is near this point" lookups.

An integer column indexed with the category turns the duplicate check into a few exact index
probes (the 3×3 cells around a point), whatever the size of the history.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

CELL_DEG = 0.0005
_ROW = 1_000_000  # cells per row of latitude: 360 / CELL_DEG = 720,000 < 1,000,000


def cell_of(lat: float, lng: float) -> int:
    """The cell holding a WGS84 point."""
    return math.floor((lat + 90.0) / CELL_DEG) * _ROW + math.floor((lng + 180.0) / CELL_DEG)


def cells_of(lats: npt.ArrayLike, lngs: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Cells of many points at once."""
    rows = np.floor((np.asarray(lats, dtype=np.float64) + 90.0) / CELL_DEG).astype(np.int64)
    cols = np.floor((np.asarray(lngs, dtype=np.float64) + 180.0) / CELL_DEG).astype(np.int64)
    return rows * _ROW + cols


def cells_around(lat: float, lng: float, radius_m: float) -> list[int]:
    """Every cell that a circle of ``radius_m`` around the point touches."""
    dlat = radius_m / 111_320.0
    dlng = radius_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    r0, r1 = (math.floor((lat + 90.0 + d) / CELL_DEG) for d in (-dlat, dlat))
    c0, c1 = (math.floor((lng + 180.0 + d) / CELL_DEG) for d in (-dlng, dlng))
    return [r * _ROW + c for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]

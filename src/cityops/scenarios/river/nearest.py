"""The section (河段) nearest a point, within a distance in metres: pure, over GeoJSON lines.

Candidates come from an STRtree by a box around the point; the exact distance is taken in a
local plane in metres (equirectangular about the point: over the few hundred metres asked for,
well under a metre off).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import shapely

M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)


class SectionFinder:
    """Sections as (id, GeoJSON geometry text); ``nearest`` answers (id, metres)."""

    def __init__(self, sections: Iterable[tuple[int, str]]) -> None:
        pairs = list(sections)
        self.ids = [sid for sid, _ in pairs]
        self.geoms: list[shapely.Geometry] = [shapely.from_geojson(g) for _, g in pairs]
        self.tree = shapely.STRtree(self.geoms)

    def nearest(self, lat: float, lng: float, max_m: float) -> tuple[int, float] | None:
        """The closest section within ``max_m`` metres (the lower id on a tie), or None."""
        dlat = max_m / M_PER_DEG
        dlng = max_m / (M_PER_DEG * max(math.cos(math.radians(lat)), 1e-6))
        box = shapely.box(lng - dlng, lat - dlat, lng + dlng, lat + dlat)
        best: tuple[float, int] | None = None
        for i in self.tree.query(box):
            d = metres_to(self.geoms[int(i)], lat, lng)
            if d <= max_m and (best is None or (d, self.ids[int(i)]) < best):
                best = (d, self.ids[int(i)])
        return (best[1], best[0]) if best is not None else None


def metres_to(geom: shapely.Geometry, lat: float, lng: float) -> float:
    """Distance in metres from (lat, lng) to a WGS84 geometry nearby."""
    kx = M_PER_DEG * math.cos(math.radians(lat))

    def local(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(((coords[:, 0] - lng) * kx, (coords[:, 1] - lat) * M_PER_DEG))

    return float(shapely.distance(shapely.transform(geom, local), shapely.Point(0.0, 0.0)))

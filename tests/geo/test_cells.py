"""The cell key: a point's neighbours within the radius always lie in the cells listed around it."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cityops.cases.dispatch import haversine_m
from cityops.geo.cells import cell_of, cells_around, cells_of


@given(
    lat=st.floats(28.0, 32.5),
    lng=st.floats(105.0, 110.5),
    bearing=st.floats(0, 2 * math.pi),
    dist=st.floats(0, 50),
)
def test_every_point_within_the_radius_is_in_a_listed_cell(
    lat: float, lng: float, bearing: float, dist: float
) -> None:
    dlat = dist * math.cos(bearing) / 111_320.0
    dlng = dist * math.sin(bearing) / (111_320.0 * math.cos(math.radians(lat)))
    other = (lat + dlat, lng + dlng)
    if haversine_m(lat, lng, *other) <= 50:
        assert cell_of(*other) in cells_around(lat, lng, 50)


def test_vectorised_cells_match_the_scalar_ones() -> None:
    rng = np.random.default_rng(3)
    lats, lngs = rng.uniform(28, 32.5, 1000), rng.uniform(105, 110.5, 1000)
    assert cells_of(lats, lngs).tolist() == [cell_of(a, b) for a, b in zip(lats, lngs, strict=True)]
    assert len(cells_around(29.5, 106.5, 50)) <= 16  # a handful of probes, not a strip of the city

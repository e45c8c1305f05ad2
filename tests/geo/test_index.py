"""The point index answers exactly what brute-force ``contains`` answers, only faster."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from cityops.geo.index import JurisdictionIndex, Location


def _brute(geoms: list[shapely.Geometry], xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    out = np.full(len(xs), -1)
    for row in range(len(geoms) - 1, -1, -1):  # lowest row wins where polygons overlap
        out[shapely.contains_xy(geoms[row], xs, ys)] = row
    return out


def _loc(i: int) -> Location:
    return Location("500107", f"500107{i % 1000:03d}", None, None)


def _mixed_map(seed: int) -> list[shapely.Geometry]:
    """A lattice of 100 m-ish squares beside Voronoi cells, a holed polygon and a multipolygon."""
    rng = np.random.default_rng(seed)
    d = 0.001
    xs, ys = np.meshgrid(np.arange(40) * d, np.arange(30) * d)
    squares = list(shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + d, ys.ravel() + d))
    extent = box(0.04, 0.0, 0.1, 0.03)
    seeds = shapely.multipoints(rng.uniform((0.04, 0.0), (0.1, 0.03), (300, 2)))
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=extent)), extent
    )
    holed = Polygon(
        [(0, 0.04), (0.03, 0.04), (0.03, 0.07), (0, 0.07)],
        [[(0.01, 0.05), (0.02, 0.05), (0.02, 0.06), (0.01, 0.06)]],
    )
    multi = MultiPolygon([box(0.05, 0.05, 0.06, 0.06), box(0.07, 0.05, 0.08, 0.06)])
    overlap = box(0.055, 0.055, 0.075, 0.058)  # overlaps the multipolygon: lower row wins
    return [*squares, *cells, holed, multi, overlap]


@pytest.mark.parametrize("fine_min", [1, 10_000])  # with and without the fine raster
def test_matches_brute_force_on_random_points(fine_min: int) -> None:
    geoms = _mixed_map(1)
    index = JurisdictionIndex(
        geoms, [_loc(i) for i in range(len(geoms))], coarse_cells=5_000, fine_min_polygons=fine_min
    )
    rng = np.random.default_rng(2)
    xs = rng.uniform(-0.01, 0.11, 40_000)
    ys = rng.uniform(-0.01, 0.08, 40_000)
    got = index.locate_many(xs, ys)
    assert (got == _brute(geoms, xs, ys)).all()
    assert (got >= 0).mean() > 0.3  # the test is not trivially all "outside"


def test_points_on_edges_and_vertices_agree_with_brute_force() -> None:
    geoms = _mixed_map(4)
    index = JurisdictionIndex(geoms, [_loc(i) for i in range(len(geoms))], fine_min_polygons=1)
    rng = np.random.default_rng(5)
    # Exactly on lattice lines, on lattice vertices, on the hole's ring.
    xs = np.concatenate(
        [np.round(rng.uniform(0, 0.04, 5000), 3), rng.uniform(0, 0.04, 5000), np.full(100, 0.01)]
    )
    ys = np.concatenate(
        [
            rng.uniform(0, 0.03, 5000),
            np.round(rng.uniform(0, 0.03, 5000), 3),
            np.linspace(0.05, 0.06, 100),
        ]
    )
    assert (index.locate_many(xs, ys) == _brute(geoms, xs, ys)).all()


def test_locate_returns_codes_and_none_outside() -> None:
    geoms = [box(106.5, 29.5, 106.51, 29.51), box(106.51, 29.5, 106.52, 29.51)]
    locs = [
        Location("500107", "500107001", "500107001001", "500107001001001"),
        Location("500107", "500107002", None, None),
    ]
    index = JurisdictionIndex(geoms, locs, names={"500107": "九龙坡区"})
    assert index.locate(106.505, 29.505) == locs[0]
    assert index.locate(106.515, 29.505) == locs[1]
    assert index.locate(106.515, 29.505).code == "500107002"  # type: ignore[union-attr]
    assert index.locate(106.6, 29.505) is None
    assert index.name_of("500107") == "九龙坡区"
    rows = index.locate_many(np.array([106.505, 106.515, 0.0]), np.array([29.505, 29.505, 0.0]))
    assert rows.tolist() == [0, 1, -1]
    assert index.location(1) == locs[1]


def test_empty_index_locates_nothing() -> None:
    index = JurisdictionIndex([], [])
    assert index.locate(106.5, 29.5) is None
    assert len(index) == 0

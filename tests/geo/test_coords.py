"""WGS84 ⇄ GCJ-02: known offsets, round trips, the China test."""

from __future__ import annotations

import numpy as np

from cityops.geo.coords import (
    gcj02_to_wgs84,
    gcj02_to_wgs84_many,
    haversine_m,
    out_of_china,
    wgs84_to_gcj02,
    wgs84_to_gcj02_many,
)


def test_known_offset_at_jiefangbei() -> None:
    # Reference value of the published algorithm (same as fast-geocn's coord.py).
    lng, lat = wgs84_to_gcj02(106.55, 29.56)
    assert abs(lng - 106.553720337) < 1e-8
    assert abs(lat - 29.557153429) < 1e-8
    # The shift in Chongqing is a few hundred metres, which is why conversion matters.
    assert 300 < haversine_m(106.55, 29.56, lng, lat) < 500


def test_round_trip_is_under_a_metre_across_chongqing() -> None:
    rng = np.random.default_rng(3)
    lngs = rng.uniform(105.2, 110.2, 10_000)
    lats = rng.uniform(28.1, 32.3, 10_000)
    g_lng, g_lat = wgs84_to_gcj02_many(lngs, lats)
    back_lng, back_lat = gcj02_to_wgs84_many(g_lng, g_lat)
    err_m = np.hypot(
        (back_lng - lngs) * 111_320 * np.cos(np.radians(lats)), (back_lat - lats) * 110_946
    )
    assert err_m.max() < 0.01


def test_scalar_matches_vectorised() -> None:
    g = wgs84_to_gcj02(106.5, 29.6)
    gv = wgs84_to_gcj02_many(np.array([106.5]), np.array([29.6]))
    assert g == (float(gv[0][0]), float(gv[1][0]))
    w = gcj02_to_wgs84(*g)
    assert haversine_m(w[0], w[1], 106.5, 29.6) < 0.01


def test_outside_china_is_unchanged() -> None:
    assert out_of_china(2.35, 48.85)
    assert not out_of_china(106.55, 29.56)
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)

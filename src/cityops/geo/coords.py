"""WGS84 ⇄ GCJ-02 (火星坐标系), scalar and numpy-vectorised.

The map and the API store WGS84; WeChat, 高德 and 腾讯 report GCJ-02. The forward transform is
the published Krasovsky-ellipsoid formula; the inverse is solved by fixed-point iteration so a
round trip stays well under a millimetre (the one-step inverse found in most snippets is off by
up to about two metres).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_A = 6378245.0  # Krasovsky 1940 semi-major axis
_EE = 0.00669342162296594323  # its first eccentricity squared
# The rectangle the offset applies in (the customary mainland test).
_LNG_MIN, _LNG_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271


def _offsets(lng: Any, lat: Any) -> tuple[Any, Any]:
    """GCJ-02 minus WGS84 (degrees) at a WGS84 position; works on floats and arrays."""
    x = lng - 105.0
    y = lat - 35.0
    pi = np.pi
    sx = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
    dlat = dlat + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
    dlng = dlng + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlng = dlng + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * pi)
    dlng = (dlng * 180.0) / (_A / sqrtmagic * np.cos(radlat) * pi)
    return dlng, dlat


def out_of_china(lng: float, lat: float) -> bool:
    """True where GCJ-02 does not apply (outside the mainland rectangle)."""
    return not (_LNG_MIN <= lng <= _LNG_MAX and _LAT_MIN <= lat <= _LAT_MAX)


def out_of_china_many(lngs: FloatArray, lats: FloatArray) -> npt.NDArray[np.bool_]:
    """Vectorised :func:`out_of_china`."""
    return ~((lngs >= _LNG_MIN) & (lngs <= _LNG_MAX) & (lats >= _LAT_MIN) & (lats <= _LAT_MAX))


def wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    """One WGS84 point to GCJ-02; points outside China are returned unchanged."""
    if out_of_china(lng, lat):
        return lng, lat
    dlng, dlat = _offsets(lng, lat)
    return lng + float(dlng), lat + float(dlat)


def gcj02_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    """One GCJ-02 point to WGS84 (iterative inverse, error below 1 mm)."""
    out_lng, out_lat = gcj02_to_wgs84_many(np.array([lng], dtype=np.float64), np.array([lat]))
    return float(out_lng[0]), float(out_lat[0])


def wgs84_to_gcj02_many(lngs: FloatArray, lats: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Vectorised WGS84 → GCJ-02."""
    lngs = np.asarray(lngs, dtype=np.float64)
    lats = np.asarray(lats, dtype=np.float64)
    dlng, dlat = _offsets(lngs, lats)
    outside = out_of_china_many(lngs, lats)
    return (
        np.where(outside, lngs, lngs + dlng).astype(np.float64),
        np.where(outside, lats, lats + dlat).astype(np.float64),
    )


def gcj02_to_wgs84_many(
    lngs: FloatArray, lats: FloatArray, *, iterations: int = 6
) -> tuple[FloatArray, FloatArray]:
    """Vectorised GCJ-02 → WGS84: iterate ``w ← g − offset(w)``; each step gains ~5 digits."""
    g_lng = np.asarray(lngs, dtype=np.float64)
    g_lat = np.asarray(lats, dtype=np.float64)
    w_lng, w_lat = g_lng.copy(), g_lat.copy()
    for _ in range(iterations):
        dlng, dlat = _offsets(w_lng, w_lat)
        w_lng = g_lng - dlng
        w_lat = g_lat - dlat
    outside = out_of_china_many(g_lng, g_lat)
    return np.where(outside, g_lng, w_lng), np.where(outside, g_lat, w_lat)


def haversine_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Great-circle distance in metres (mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(h))

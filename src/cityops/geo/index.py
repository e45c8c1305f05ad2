"""Point → jurisdiction index (落图定位): the grid, community, street and district of a point.

Pure: built from shapely polygons, no database. Two uniform rasters answer most points with a
numpy lookup; only points in cells that a polygon edge crosses go to an exact STRtree test:

* a coarse raster over the whole map (about four million cells at most);
* a fine raster over the bounding box of the small polygons (unit grids), when there are many.

A cell is labelled with a polygon only if no polygon edge comes within a hair of it, so the
label holds for every point of the cell; the answer is therefore exactly what a brute-force
``polygon.contains(point)`` gives (a point on an edge is in no polygon; where polygons overlap,
the lowest row wins). Cells are filled by scanline at their centres, edges are marked by a
supercover pass; both are plain numpy, so building the city index takes about a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]

_OUTSIDE = -1
_EDGE = -2  # a polygon edge crosses the cell: test exactly


@dataclass(frozen=True, slots=True)
class Location:
    """The codes of the areas a point lies in; None where the map has no such level there."""

    district_code: str | None
    street_code: str | None
    community_code: str | None
    grid_code: str | None

    @property
    def code(self) -> str | None:
        """The most detailed code known."""
        return self.grid_code or self.community_code or self.street_code or self.district_code


@dataclass(frozen=True, slots=True)
class _Edges:
    x1: FloatArray
    y1: FloatArray
    x2: FloatArray
    y2: FloatArray
    owner: npt.NDArray[np.int64]


def _edges(geoms: npt.NDArray[np.object_]) -> _Edges:
    """Every ring segment of every polygon, with the row it belongs to."""
    parts, owner = shapely.get_parts(shapely.boundary(geoms), return_index=True)
    coords, cidx = shapely.get_coordinates(parts, return_index=True)
    same = cidx[1:] == cidx[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    return _Edges(start[:, 0], start[:, 1], end[:, 0], end[:, 1], owner[cidx[:-1][same]])


@dataclass(frozen=True, slots=True)
class _Raster:
    x0: float
    y0: float
    w: float
    h: float
    cells: IntArray  # shape (ny, nx): row index, _OUTSIDE or _EDGE

    @property
    def shape(self) -> tuple[int, int]:
        ny, nx = self.cells.shape
        return int(ny), int(nx)

    def lookup(self, xs: FloatArray, ys: FloatArray, outside: int) -> IntArray:
        ny, nx = self.shape
        col = np.floor((xs - self.x0) / self.w)
        row = np.floor((ys - self.y0) / self.h)
        ok = (col >= 0) & (col < nx) & (row >= 0) & (row < ny)
        out = np.full(xs.shape, outside, dtype=np.int32)
        out[ok] = self.cells[row[ok].astype(np.intp), col[ok].astype(np.intp)]
        return out


def _rasterize(
    edges: _Edges, x0: float, y0: float, w: float, h: float, nx: int, ny: int
) -> IntArray:
    """Label each cell by the polygon holding its centre; mark cells an edge touches."""
    width = nx + 1
    # 1. Scanline fill at row centres (even-odd per polygon, half-open crossing rule).
    ya = np.minimum(edges.y1, edges.y2)
    yb = np.maximum(edges.y1, edges.y2)
    r_lo = np.clip(np.floor((ya - y0) / h - 0.5), 0, ny).astype(np.int64)
    r_hi = np.clip(np.ceil((yb - y0) / h - 0.5), 0, ny).astype(np.int64)
    count = np.maximum(r_hi - r_lo + 1, 0)
    e = np.repeat(np.arange(len(ya)), count)
    rows = np.repeat(r_lo, count) + (np.arange(len(e)) - np.repeat(np.cumsum(count) - count, count))
    yc = y0 + (rows + 0.5) * h
    keep = (rows < ny) & (ya[e] <= yc) & (yc < yb[e])
    e, rows, yc = e[keep], rows[keep], yc[keep]
    x1, y1, x2, y2 = edges.x1[e], edges.y1[e], edges.x2[e], edges.y2[e]
    xc = x1 + (yc - y1) * (x2 - x1) / (y2 - y1)
    owner = edges.owner[e]
    order = np.lexsort((xc, rows, owner))
    xc, rows, owner = xc[order], rows[order], owner[order]
    xs, xe, rr, oo = xc[0::2], xc[1::2], rows[0::2], owner[0::2]
    c_a = np.clip(np.ceil((xs - x0) / w - 0.5), 0, nx).astype(np.int64)
    c_b = np.clip(np.ceil((xe - x0) / w - 0.5), 0, nx).astype(np.int64)
    span = c_a < c_b
    c_a, c_b, rr, oo = c_a[span], c_b[span], rr[span], oo[span]
    size = ny * width
    idx = np.concatenate([rr * width + c_a, rr * width + c_b])
    label = np.concatenate([oo + 1, -(oo + 1)]).astype(np.float64)
    ones = np.concatenate([np.ones(len(c_a)), -np.ones(len(c_a))])
    ids = np.cumsum(np.bincount(idx, label, size).reshape(ny, width), axis=1)[:, :nx]
    cnt = np.cumsum(np.bincount(idx, ones, size).reshape(ny, width), axis=1)[:, :nx]
    # 2. Supercover: every cell within ``m`` of an edge is marked for the exact test.
    m = max(1e-9, 1e-6 * min(w, h))
    b_lo = np.clip(np.floor((ya - m - y0) / h), 0, ny - 1).astype(np.int64)
    b_hi = np.clip(np.floor((yb + m - y0) / h), -1, ny - 1).astype(np.int64)
    count = np.maximum(b_hi - b_lo + 1, 0)
    e = np.repeat(np.arange(len(ya)), count)
    rows = np.repeat(b_lo, count) + (np.arange(len(e)) - np.repeat(np.cumsum(count) - count, count))
    lo = np.maximum(ya[e], y0 + rows * h - m)
    hi = np.minimum(yb[e], y0 + (rows + 1) * h + m)
    inside = lo <= hi
    e, rows, lo, hi = e[inside], rows[inside], lo[inside], hi[inside]
    x1, y1, x2, y2 = edges.x1[e], edges.y1[e], edges.x2[e], edges.y2[e]
    dy = y2 - y1
    flat = np.abs(dy) < 1e-15
    slope = np.where(flat, 0.0, (x2 - x1) / np.where(flat, 1.0, dy))
    xa = np.where(flat, np.minimum(x1, x2), x1 + (lo - y1) * slope)
    xb = np.where(flat, np.maximum(x1, x2), x1 + (hi - y1) * slope)
    seg_min, seg_max = np.minimum(x1, x2), np.maximum(x1, x2)
    xmin = np.clip(np.minimum(xa, xb), seg_min, seg_max)
    xmax = np.clip(np.maximum(xa, xb), seg_min, seg_max)
    c_lo = np.clip(np.floor((xmin - m - x0) / w), 0, nx).astype(np.int64)
    c_hi = np.clip(np.floor((xmax + m - x0) / w) + 1, 0, nx).astype(np.int64)
    span = c_lo < c_hi
    idx = np.concatenate([rows[span] * width + c_lo[span], rows[span] * width + c_hi[span]])
    ones = np.concatenate([np.ones(int(span.sum())), -np.ones(int(span.sum()))])
    edge = np.cumsum(np.bincount(idx, ones, size).reshape(ny, width), axis=1)[:, :nx] > 0.5
    cells = np.where(cnt < 0.5, _OUTSIDE, np.rint(ids).astype(np.int64) - 1)
    cells = np.where(edge | (cnt > 1.5), _EDGE, cells)
    return cells.astype(np.int32)


def _make_raster(edges: _Edges, bounds: Sequence[float], cell: float, max_cells: int) -> _Raster:
    minx, miny, maxx, maxy = bounds
    width, height = max(maxx - minx, 1e-9), max(maxy - miny, 1e-9)
    cell = max(cell, math.sqrt(width * height / max_cells))
    nx, ny = math.ceil(width / cell) + 2, math.ceil(height / cell) + 2
    x0, y0 = minx - cell, miny - cell
    return _Raster(x0, y0, cell, cell, _rasterize(edges, x0, y0, cell, cell, nx, ny))


class JurisdictionIndex:
    """Leaf polygons (the lowest level present at each place) with their codes."""

    def __init__(
        self,
        geometries: Sequence[BaseGeometry] | npt.NDArray[np.object_],
        locations: Sequence[Location],
        *,
        names: Mapping[str, str] | None = None,
        coarse_cells: int = 4_000_000,
        fine_cells: int = 8_000_000,
        fine_min_polygons: int = 1000,
    ) -> None:
        if len(geometries) != len(locations):
            raise ValueError("one location per geometry")
        self._geoms = np.asarray(list(geometries), dtype=object)
        self._locations = list(locations)
        self._names = dict(names or {})
        self._tree = shapely.STRtree(self._geoms)
        shapely.prepare(self._geoms)
        self._coarse: _Raster | None = None
        self._fine: _Raster | None = None
        if len(self._geoms):
            self._build_rasters(coarse_cells, fine_cells, fine_min_polygons)

    def _build_rasters(self, coarse_cells: int, fine_cells: int, fine_min: int) -> None:
        edges = _edges(self._geoms)
        bounds = shapely.total_bounds(self._geoms)
        side = np.sqrt(shapely.area(self._geoms))
        self._coarse = _make_raster(edges, bounds, float(np.median(side)) / 2, coarse_cells)
        small = side < 4 * self._coarse.w
        if small.sum() >= max(fine_min, 1):
            fine_bounds = shapely.total_bounds(self._geoms[small])
            cell = float(np.median(side[small])) / 4
            self._fine = _make_raster(edges, fine_bounds, cell, fine_cells)

    def __len__(self) -> int:
        return len(self._locations)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min_lng, min_lat, max_lng, max_lat) of all polygons."""
        b = shapely.total_bounds(self._geoms)
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])

    def location(self, row: int) -> Location:
        """The codes of row ``row`` (as returned by :meth:`locate_many`)."""
        return self._locations[row]

    def geometry(self, row: int) -> BaseGeometry:
        geom: BaseGeometry = self._geoms[row]
        return geom

    def name_of(self, code: str | None) -> str | None:
        """The name of any current jurisdiction code, if the index was given names."""
        return self._names.get(code) if code else None

    def locate(self, lng: float, lat: float) -> Location | None:
        """The area holding one WGS84 point, or None outside the map."""
        row = int(self.locate_many(np.array([lng], dtype=np.float64), np.array([lat]))[0])
        return None if row < 0 else self._locations[row]

    def locate_many(self, lngs: FloatArray, lats: FloatArray) -> IntArray:
        """Row index per point (-1 outside every polygon); vectorised."""
        xs = np.ascontiguousarray(lngs, dtype=np.float64)
        ys = np.ascontiguousarray(lats, dtype=np.float64)
        if xs.shape != ys.shape:
            raise ValueError("lngs and lats differ in shape")
        if self._coarse is None:
            return np.full(xs.shape, _OUTSIDE, dtype=np.int32)
        out = self._coarse.lookup(xs, ys, _OUTSIDE)
        if self._fine is not None:
            pending = np.flatnonzero(out == _EDGE)
            if len(pending):
                out[pending] = self._fine.lookup(xs[pending], ys[pending], _EDGE)
        pending = np.flatnonzero(out == _EDGE)
        if len(pending):
            out[pending] = self._exact(xs[pending], ys[pending])
        return out

    def _exact(self, xs: FloatArray, ys: FloatArray) -> IntArray:
        """STRtree candidates by box, then prepared point-in-polygon; lowest row wins."""
        pt, poly = self._tree.query(shapely.points(xs, ys))
        hit = shapely.contains_xy(self._geoms[poly], xs[pt], ys[pt])
        best = np.full(len(xs), np.iinfo(np.int32).max, dtype=np.int64)
        np.minimum.at(best, pt[hit], poly[hit])
        return np.where(best == np.iinfo(np.int32).max, _OUTSIDE, best).astype(np.int32)

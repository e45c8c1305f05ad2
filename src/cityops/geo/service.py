"""The map's operations: bulk load, import, queries, the loaded index, boundary changes.

Functions take the session explicitly and never commit; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from cityops.api.context import AppContext
from cityops.cases.models import Case, CaseStatus
from cityops.errors import Conflict, NotFound, ValidationFailed
from cityops.geo.geojson import parse_feature_collection
from cityops.geo.index import JurisdictionIndex, Location
from cityops.geo.models import Jurisdiction, Level
from cityops.geo.schemas import JurisdictionRecord, codes_of
from cityops.ledger import service as ledger

INDEX_KEY = "geo_index"
SINCE_ALWAYS = date(1970, 1, 1)
BATCH = 5000
FINISHED = (CaseStatus.closed, CaseStatus.evaluated, CaseStatus.void)
# GB/T 10114 classes of the 3-digit street suffix: 街道, 镇, 乡, 政企合一, other.
_SUFFIX_CLASSES = ((1, 99), (100, 199), (200, 399), (400, 599), (600, 999))


def _area_m2(geoms: np.ndarray[Any, Any], lats: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Planar area at the centre latitude; within 0.5 % for a district."""
    phi = np.radians(lats)
    per_lat = 111_132.954 - 559.822 * np.cos(2 * phi) + 1.175 * np.cos(4 * phi)
    per_lng = 111_412.84 * np.cos(phi) - 93.5 * np.cos(3 * phi)
    return np.asarray(shapely.area(geoms) * per_lat * per_lng)


def record_rows(records: Sequence[JurisdictionRecord]) -> list[dict[str, Any]]:
    """Table rows for records: WKB, bounding box, representative point and area, vectorised."""
    geoms = np.array([r.geometry for r in records], dtype=object)
    has = np.array([g is not None for g in geoms], dtype=bool)
    wkb = np.full(len(records), None, dtype=object)
    bounds = np.full((len(records), 4), np.nan)
    centre = np.full((len(records), 2), np.nan)
    area = np.full(len(records), np.nan)
    if has.any():
        wkb[has] = shapely.to_wkb(geoms[has])
        bounds[has] = shapely.bounds(geoms[has])
        centre[has] = shapely.get_coordinates(shapely.point_on_surface(geoms[has]))
        area[has] = _area_m2(geoms[has], centre[has][:, 1])
    keys = ("min_lng", "min_lat", "max_lng", "max_lat", "center_lng", "center_lat", "area_m2")
    numbers = np.column_stack([bounds, centre, area]).tolist()
    rows = []
    for i, r in enumerate(records):
        district, street, community = codes_of(r.code, r.level)
        row: dict[str, Any] = dict.fromkeys(keys) | {
            "code": r.code,
            "name": r.name,
            "level": r.level,
            "parent_code": r.parent_code,
            "district_code": district,
            "street_code": street,
            "community_code": community,
            "geometry": wkb[i],
            "valid_from": r.valid_from,
            "valid_to": r.valid_to,
            "successor_code": r.successor_code,
        }
        if has[i]:
            row.update(zip(keys, numbers[i], strict=True))
        rows.append(row)
    return rows


def _insert_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        session.execute(insert(Jurisdiction), list(rows[start : start + BATCH]))


def insert_jurisdictions(*, session: Session, records: Sequence[JurisdictionRecord]) -> int:
    """Bulk insert (Core, batched) in the caller's transaction; returns the row count."""
    rows = record_rows(records)
    _insert_rows(session, rows)
    return len(rows)


def current_filter(on: date | None = None) -> ColumnElement[bool]:
    """Rows valid on ``on`` (or still open when ``on`` is None)."""
    if on is None:
        return Jurisdiction.valid_to.is_(None)
    return and_(
        Jurisdiction.valid_from <= on,
        or_(Jurisdiction.valid_to.is_(None), Jurisdiction.valid_to > on),
    )


def import_geojson(
    *,
    session: Session,
    collection: Any,
    valid_from: date = SINCE_ALWAYS,
    at: datetime | None = None,
    actor: str = "system:import",
) -> int:
    """Validate a FeatureCollection against the current map, insert it, and put it on the ledger.

    Features without ``valid_from`` get ``valid_from`` (default: since always).
    """
    known = set(session.execute(select(Jurisdiction.code).where(current_filter())).scalars())
    records = parse_feature_collection(collection, default_valid_from=valid_from, known_codes=known)
    clash = sorted(known & {r.code for r in records})
    if clash:
        raise Conflict(
            f"{len(clash)} code(s) already on the map, e.g. {clash[0]}", codes=clash[:50]
        )
    count = insert_jurisdictions(session=session, records=records)
    digest = hashlib.sha256("\n".join(f"{r.code}\t{r.name}" for r in records).encode()).hexdigest()
    ledger.append(
        session=session,
        at=at or datetime.now(UTC),
        actor=actor,
        action="import_jurisdictions",
        subject="map",
        payload={"count": count, "codes_sha256": digest},
    )
    return count


def query_jurisdictions(
    *,
    session: Session,
    level: Level | None = None,
    parent: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    include_retired: bool = False,
    on: date | None = None,
    limit: int | None = None,
) -> tuple[int, list[Jurisdiction]]:
    """(total matching, first ``limit`` rows by code) for a map query."""
    where: list[ColumnElement[bool]] = []
    if not include_retired:
        where.append(current_filter(on))
    if level is not None:
        where.append(Jurisdiction.level == level)
    if parent:
        where.append(Jurisdiction.parent_code == parent)
    if bbox is not None:
        min_lng, min_lat, max_lng, max_lat = bbox
        where += [
            Jurisdiction.max_lng >= min_lng,
            Jurisdiction.min_lng <= max_lng,
            Jurisdiction.max_lat >= min_lat,
            Jurisdiction.min_lat <= max_lat,
        ]
    total = int(
        session.execute(select(func.count()).select_from(Jurisdiction).where(*where)).scalar_one()
    )
    stmt = select(Jurisdiction).where(*where).order_by(Jurisdiction.code, Jurisdiction.valid_from)
    if limit is not None:
        stmt = stmt.limit(limit)
    return total, list(session.execute(stmt).scalars())


def get_jurisdiction(*, session: Session, code: str, on: date | None = None) -> Jurisdiction:
    """The row valid on ``on`` (current if None), else the latest retired one; NotFound if none."""
    rows = (
        session.execute(
            select(Jurisdiction)
            .where(Jurisdiction.code == code)
            .order_by(Jurisdiction.valid_from.desc())
        )
        .scalars()
        .all()
    )
    if not rows:
        raise NotFound(f"no jurisdiction with code {code}", code="jurisdiction_not_found")
    for row in rows:
        if on is None and row.valid_to is None:
            return row
        if on is not None and row.valid_from <= on and (row.valid_to is None or row.valid_to > on):
            return row
    return rows[0]


def children_count(*, session: Session, code: str, on: date | None = None) -> int:
    stmt = select(func.count()).select_from(Jurisdiction)
    return int(
        session.execute(
            stmt.where(Jurisdiction.parent_code == code, current_filter(on))
        ).scalar_one()
    )


def load_index(*, session: Session, on: date | None = None) -> JurisdictionIndex:
    """The point index over the leaf polygons of the map valid on ``on``."""
    rows = session.execute(
        select(
            Jurisdiction.code,
            Jurisdiction.name,
            Jurisdiction.level,
            Jurisdiction.parent_code,
            Jurisdiction.district_code,
            Jurisdiction.street_code,
            Jurisdiction.community_code,
            Jurisdiction.geometry,
        ).where(current_filter(on))
    ).all()
    parents = {r.parent_code for r in rows if r.parent_code}
    names = {r.code: r.name for r in rows}
    leaves = [r for r in rows if r.code not in parents and r.geometry is not None]
    leaves.sort(key=lambda r: r.code)
    geoms = shapely.from_wkb(np.array([bytes(r.geometry) for r in leaves], dtype=object))
    locations = [
        Location(
            r.district_code,
            r.street_code,
            r.community_code,
            r.code if Level(r.level) == Level.grid else None,
        )
        for r in leaves
    ]
    return JurisdictionIndex(geoms, locations, names=names)


def get_index(ctx: AppContext, session: Session) -> JurisdictionIndex:
    """The app's loaded index, built on first use and kept in ``ctx.extras``."""
    index = ctx.extras.get(INDEX_KEY)
    if not isinstance(index, JurisdictionIndex):
        index = load_index(session=session)
        ctx.extras[INDEX_KEY] = index
    return index


def invalidate_index(ctx: AppContext) -> None:
    """Forget the loaded index (after the map changed)."""
    ctx.extras.pop(INDEX_KEY, None)


@dataclass(frozen=True, slots=True)
class MergeResult:
    target_code: str
    code_map: dict[str, str]  # every re-coded street, community and grid: old → new
    rehomed_case_ids: list[int]
    retired: int
    inserted: int


def _renumber_streets(streets: Iterable[str], target: str) -> dict[str, str]:
    """Sequential new suffixes within each GB/T 10114 class, in the given order."""
    used = {lo: lo for lo, _ in _SUFFIX_CLASSES}
    out: dict[str, str] = {}
    for old in streets:
        suffix = int(old[6:9])
        lo, hi = next((c for c in _SUFFIX_CLASSES if c[0] <= suffix <= c[1]), _SUFFIX_CLASSES[0])
        if used[lo] > hi:
            raise ValidationFailed(f"too many streets of class {lo:03d}-{hi:03d} for {target}")
        out[old] = f"{target}{used[lo]:03d}"
        used[lo] += 1
    return out


def _check_merge(
    session: Session, sources: Sequence[str], target_code: str, effective: date
) -> list[Any]:
    if not sources or len(set(sources)) != len(sources) or target_code in sources:
        raise ValidationFailed("sources must be distinct district codes, without the target")
    if len(target_code) != 6 or not target_code.isdigit():
        raise ValidationFailed(f"target code must have 6 digits, got {target_code!r}")
    rows = (
        session.execute(
            select(Jurisdiction).where(
                Jurisdiction.code.in_(sources),
                Jurisdiction.level == Level.district,
                current_filter(),
            )
        )
        .scalars()
        .all()
    )
    missing = sorted(set(sources) - {r.code for r in rows})
    if missing:
        raise NotFound(f"no current district {', '.join(missing)}", code="jurisdiction_not_found")
    taken = session.execute(
        select(Jurisdiction.id).where(Jurisdiction.code == target_code, current_filter())
    ).first()
    if taken is not None:
        raise Conflict(f"code {target_code} is already on the map", code="code_taken")
    if any(r.valid_from >= effective for r in rows) or len({r.parent_code for r in rows}) != 1:
        raise ValidationFailed("sources must share a parent and start before the effective date")
    order = {c: i for i, c in enumerate(sources)}
    return sorted(rows, key=lambda r: order[r.code])


def merge_jurisdictions(
    *,
    session: Session,
    sources: list[str],
    target_code: str,
    target_name: str,
    effective: date,
    at: datetime,
    actor: str,
) -> MergeResult:
    """Merge districts into a new one (e.g. 江北区 + 渝北区 → 两江新区), keeping history.

    Streets are renumbered per GB/T 10114 class in the order of ``sources`` then old code;
    communities and grids keep their own suffixes under the new street code. Open cases move
    to the new codes (one ``rehome`` ledger entry each); finished cases keep theirs.
    """
    src = _check_merge(session, sources, target_code, effective)
    union = shapely.union_all(shapely.from_wkb([bytes(r.geometry) for r in src if r.geometry]))
    cols = [c for c in Jurisdiction.__table__.columns if c.name != "id"]
    children = (
        session.execute(
            select(Jurisdiction.id, *cols).where(
                Jurisdiction.district_code.in_(sources),
                Jurisdiction.level != Level.district,
                current_filter(),
            )
        )
        .mappings()
        .all()
    )
    rank = {c: i for i, c in enumerate(sources)}
    streets = sorted(
        (c["code"] for c in children if c["level"] == Level.street),
        key=lambda code: (rank[code[:6]], code),
    )
    street_map = _renumber_streets(streets, target_code)
    orphans = [c["code"] for c in children if c["code"][:9] not in street_map]
    if orphans:
        raise ValidationFailed(f"{len(orphans)} area(s) have no current street, e.g. {orphans[0]}")
    code_map = {c["code"]: street_map[c["code"][:9]] + c["code"][9:] for c in children}
    parent_of_target = src[0].parent_code
    retire = [{"id": r.id, "valid_to": effective, "successor_code": target_code} for r in src]
    retire += [
        {"id": c["id"], "valid_to": effective, "successor_code": code_map[c["code"]]}
        for c in children
    ]
    session.execute(update(Jurisdiction), retire)
    target = JurisdictionRecord(
        target_code, target_name, Level.district, parent_of_target, union, effective
    )
    new_rows = record_rows([target])
    for c in children:
        row = {k.name: c[k.name] for k in cols}
        new_code = code_map[c["code"]]
        district, street, community = codes_of(new_code, Level(c["level"]))
        parent = c["parent_code"]
        row.update(
            code=new_code,
            parent_code=target_code if parent in rank else code_map.get(parent, parent),
            district_code=district,
            street_code=street,
            community_code=community,
            valid_from=effective,
            valid_to=None,
            successor_code=None,
        )
        new_rows.append(row)
    _insert_rows(session, new_rows)
    moved = _rehome_cases(session, sources, target_code, code_map, at=at, actor=actor)
    ledger.append(
        session=session,
        at=at,
        actor=actor,
        action="merge",
        subject=f"jurisdiction:{target_code}",
        payload={
            "sources": list(sources),
            "target_code": target_code,
            "target_name": target_name,
            "effective": effective.isoformat(),
            "streets": street_map,
            "recoded": len(code_map),
            "rehomed_cases": len(moved),
        },
    )
    session.flush()
    return MergeResult(target_code, code_map, moved, len(retire), len(new_rows))


def _rehome_cases(
    session: Session,
    sources: Sequence[str],
    target_code: str,
    code_map: Mapping[str, str],
    *,
    at: datetime,
    actor: str,
) -> list[int]:
    """Move open cases to the new codes; unknown old codes stay and are reported."""
    cases = (
        session.execute(
            select(Case)
            .where(Case.district_code.in_(sources), Case.status.not_in(FINISHED))
            .order_by(Case.id)
        )
        .scalars()
        .all()
    )
    moved: list[int] = []
    for case in cases:
        before = {
            "district_code": case.district_code,
            "street_code": case.street_code,
            "community_code": case.community_code,
            "grid_code": case.grid_code,
        }
        case.district_code = target_code
        case.street_code = code_map.get(case.street_code, case.street_code)
        if case.community_code:
            case.community_code = code_map.get(case.community_code, case.community_code)
        if case.grid_code:
            case.grid_code = code_map.get(case.grid_code, case.grid_code)
        case.updated_at = at
        after = {k: getattr(case, k) for k in before}
        unmapped = [
            v for k, v in before.items() if v and k != "district_code" and v not in code_map
        ]
        moved.append(case.id)
        ledger.append(
            session=session,
            at=at,
            actor=actor,
            action="rehome",
            subject=f"case:{case.id}",
            payload={"from": before, "to": after, "reason": "merge", "unmapped": unmapped},
        )
    return moved

"""The map's operations: bulk load, import, queries, the loaded index, boundary changes.

Functions take the session explicitly and never commit; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import ColumnElement, and_, func, insert, or_, select
from sqlalchemy.orm import Session

from cityops.api.context import AppContext
from cityops.errors import Conflict, NotFound
from cityops.geo.geojson import parse_feature_collection
from cityops.geo.index import JurisdictionIndex, Location
from cityops.geo.models import Jurisdiction, Level
from cityops.geo.schemas import JurisdictionRecord, codes_of
from cityops.ledger import service as ledger

INDEX_KEY = "geo_index"
SINCE_ALWAYS = date(1970, 1, 1)
BATCH = 5000


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


def insert_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        session.execute(insert(Jurisdiction), list(rows[start : start + BATCH]))


def insert_jurisdictions(*, session: Session, records: Sequence[JurisdictionRecord]) -> int:
    """Bulk insert (Core, batched) in the caller's transaction; returns the row count."""
    rows = record_rows(records)
    insert_rows(session, rows)
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

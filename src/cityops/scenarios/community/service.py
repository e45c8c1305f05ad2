"""Community cockpit operations: who may look, the twin (generated once), its rows and boards.

Functions take the session explicitly and never commit; the caller owns the transaction.

Who sees a community (least surprise, after ``auth/scope.py``): the city admin every one; staff
(district dispatcher, street staff, inspector, field worker) the communities inside their scope
(a street's staff that street's communities, a dispatcher the district's); a resident only the
community their account's scope names, and today ``auth.service`` gives residents no scope, so
residents are refused until accounts carry a community; devices never. Within a community,
case rows (open issues, residents' reports) follow ``GET /cases``' rule for the same user (a
field worker sees the cases assigned to him, a resident his own), counts on the boards are the
community's, and devices are listed only to roles that may read sensing data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import shapely
from shapely import affinity
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.auth.models import Role
from cityops.auth.policy import RULES_POLICY, SENSING_POLICY, RulesAction, SensingAction
from cityops.auth.scope import Principal
from cityops.cases import queries
from cityops.cases.lifecycle import OPEN_STATES
from cityops.cases.models import Case, CaseStatus, Channel
from cityops.errors import CityOpsError, Forbidden, NotFound
from cityops.geo import service as geo
from cityops.geo.geojson import geometry_json
from cityops.geo.models import Level
from cityops.ledger import service as ledger
from cityops.rules import service as rules
from cityops.scenarios.community import boards, layers, snapshot, twin
from cityops.scenarios.community.models import Building, Camera, CameraStatus, Facility, Road
from cityops.scenarios.community.schemas import CommunityRef, DeviceRead, ReportRead, TwinSummary
from cityops.sensing import entities
from cityops.store.base import Base

STAFF = frozenset({Role.district_dispatcher, Role.street_staff, Role.field_worker, Role.inspector})
OPEN_CASE_LIMIT = 1000
ALARM_LIMIT = 500
M = TypeVar("M", bound=Base)


class NotACommunity(CityOpsError):
    status = 400
    code = "not_a_community"


@dataclass(frozen=True, slots=True)
class Community:
    code: str
    name: str
    street_code: str | None
    district_code: str | None
    geometry: BaseGeometry
    area_m2: float | None
    grids: int

    @property
    def ref(self) -> CommunityRef:
        return CommunityRef(
            code=self.code,
            name=self.name,
            street_code=self.street_code,
            district_code=self.district_code,
        )

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = self.geometry.bounds
        return float(x0), float(y0), float(x1), float(y1)


def get_community(*, session: Session, code: str) -> Community:
    """The community with this code: 404 ``community_not_found``, 400 ``not_a_community``."""
    try:
        row = geo.get_jurisdiction(session=session, code=code)
    except NotFound:
        if code.isdigit() and len(code) == 12:
            raise NotFound(f"no community {code}", code="community_not_found") from None
        raise NotACommunity(f"{code!r} is not a community code (12 digits)") from None
    if row.level != Level.community or row.geometry is None:
        raise NotACommunity(f"{code} is a {row.level.value}, not a community")
    return Community(
        row.code, row.name, row.street_code, row.district_code,
        shapely.from_wkb(row.geometry), row.area_m2,
        geo.children_count(session=session, code=row.code),
    )  # fmt: skip


def may_view(user: Principal, code: str) -> bool:
    if user.is_city_wide:
        return True
    if user.role == Role.resident:
        return user.scope_code == code
    return user.role in STAFF and user.covers(code)


def open_community(*, session: Session, user: Principal, code: str) -> Community:
    """The community, if this user may look at it (see the module docstring)."""
    community = get_community(session=session, code=code)
    if not may_view(user, code):
        why = "outside_jurisdiction" if user.role in STAFF else "role_forbidden"
        raise Forbidden(
            f"community {code} is not yours to view (scope {user.scope_code or 'none'})", code=why
        )
    return community


def may_read_devices(user: Principal) -> bool:
    return SensingAction.read in SENSING_POLICY.get(user.role, frozenset())


def may_read_alarms(user: Principal) -> bool:
    return RulesAction.read_alarms in RULES_POLICY.get(user.role, frozenset())


def rows(session: Session, model: type[M], code: str) -> list[M]:
    """A twin table's rows of one community, in id order."""
    column = model.community_code  # type: ignore[attr-defined]
    stmt = select(model).where(column == code).order_by(model.id)  # type: ignore[attr-defined]
    return list(session.execute(stmt).scalars())


def _point(geom: BaseGeometry) -> tuple[float, float]:
    return round(float(geom.y), 7), round(float(geom.x), 7)


def ensure_twin(
    *,
    session: Session,
    community_code: str,
    seed: int,
    at: datetime | None = None,
    actor: str = "system:seed",
) -> TwinSummary:
    """Generate the community's twin unless it has one (idempotent); the ledger records it."""
    community = get_community(session=session, code=community_code)
    counts = {
        m: int(
            session.execute(
                select(func.count()).where(m.community_code == community_code)
            ).scalar_one()
        )
        for m in (Building, Road, Facility, Camera)
    }
    if any(counts.values()):
        return TwinSummary(
            community_code=community_code, created=False, buildings=counts[Building],
            roads=counts[Road], facilities=counts[Facility], cameras=counts[Camera],
        )  # fmt: skip
    plan = twin.generate(community.geometry, seed=seed, code=community.code, name=community.name)
    buildings = [
        Building(
            community_code=community_code, name=b.name, kind=b.kind,
            footprint=json.dumps(geometry_json(b.footprint)),
            lat=_point(b.footprint.centroid)[0], lng=_point(b.footprint.centroid)[1],
            floors=b.floors, households=b.households, residents=b.residents,
            elderly=b.elderly, year_built=b.year_built,
        )
        for b in plan.buildings
    ]  # fmt: skip
    session.add_all(buildings)
    session.flush()
    ids = [b.id for b in buildings]
    session.add_all(
        Road(community_code=community_code, name=r.name, geometry=json.dumps(geometry_json(r.line)),
             length_m=round(_length_m(r.line), 1))
        for r in plan.roads
    )  # fmt: skip
    session.add_all(
        Facility(
            community_code=community_code, kind=f.kind, name=f.name, lat=_point(f.point)[0],
            lng=_point(f.point)[1], opening_hours=f.opening_hours,
            building_id=ids[f.building] if f.building is not None else None,
        )
        for f in plan.facilities
    )  # fmt: skip
    cameras = [
        Camera(
            community_code=community_code, name=c.name, lat=_point(c.point)[0],
            lng=_point(c.point)[1], building_id=ids[c.building] if c.building is not None else None,
            status=CameraStatus.online if c.online else CameraStatus.offline,
        )
        for c in plan.cameras
    ]  # fmt: skip
    session.add_all(cameras)
    session.flush()
    for c in cameras:
        c.snapshot_url, c.stream_url = snapshot.snapshot_path(c.id), snapshot.live_path(c.id)
    session.flush()
    summary = TwinSummary(
        community_code=community_code, created=True, buildings=len(buildings),
        roads=len(plan.roads), facilities=len(plan.facilities), cameras=len(cameras),
    )  # fmt: skip
    ledger.append(
        session=session, at=at or datetime.now(UTC), actor=actor,
        action="community_twin_generated", subject=f"community:{community_code}",
        payload={"seed": seed, **summary.model_dump(exclude={"community_code", "created"})},
    )  # fmt: skip
    return summary


def _length_m(line: BaseGeometry) -> float:
    """Length in metres (equirectangular at the line's latitude)."""
    kx = 111_320.0 * math.cos(math.radians(float(line.centroid.y)))
    return float(affinity.scale(line, xfact=kx, yfact=110_946.0).length)


def open_cases(
    *, session: Session, user: Principal, community: Community
) -> tuple[list[Case], bool]:
    """The community's open cases this user may see (newest first) and whether more exist."""
    page = queries.list_cases(
        session=session,
        user=user,
        filters=queries.CaseFilter(status=sorted(OPEN_STATES), jurisdiction=community.code),
        limit=OPEN_CASE_LIMIT,
    )
    return page.items, page.next_cursor is not None


def devices(*, session: Session, community: Community) -> list[entities.LocatedThing]:
    """Sensing Things whose location lies in the community polygon."""
    found = entities.things_in_bbox(session=session, bbox=community.bbox)
    shapely.prepare(community.geometry)
    return [t for t in found if shapely.contains_xy(community.geometry, t.lng, t.lat)]


def alarms(*, session: Session, community: Community) -> dict[str, list[Any]]:
    """Active and acknowledged alarms raised on places in the community (newest first)."""
    return {
        state: rules.list_alarms(
            session=session, state=state, severity=None, plan=None, scope=community.code,
            limit=ALARM_LIMIT,
        )
        for state in ("active", "acknowledged")
    }  # fmt: skip


def reports(
    *,
    session: Session,
    user: Principal,
    community: Community,
    names: Mapping[str, str],
    status: Sequence[CaseStatus] = (),
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[ReportRead], str | None]:
    """Residents' reports (channel resident) of the community, newest first."""
    page = queries.list_cases(
        session=session,
        user=user,
        filters=queries.CaseFilter(
            status=list(status), jurisdiction=community.code, channel=[Channel.resident]
        ),
        limit=limit,
        cursor=cursor,
    )
    return [layers.report_read(c, names) for c in page.items], page.next_cursor


def get_camera(*, session: Session, camera_id: int) -> Camera:
    camera = session.get(Camera, camera_id)
    if camera is None:
        raise NotFound(f"no camera {camera_id}", code="camera_not_found")
    return camera


def get_building(*, session: Session, community: Community, building_id: int) -> Building:
    building = session.get(Building, building_id)
    if building is None or building.community_code != community.code:
        raise NotFound(
            f"no building {building_id} in community {community.code}", code="building_not_found"
        )
    return building


def scene(
    *,
    session: Session,
    user: Principal,
    community: Community,
    names: Mapping[str, str],
    secret: str,
    now: datetime,
) -> layers.Scene:
    """The community's twin rows, cameras (signed links), devices and the user's open issues."""
    buildings = rows(session, Building, community.code)
    index = layers.BuildingIndex(buildings)
    found: list[DeviceRead] | None = None
    if may_read_devices(user):
        found = [
            layers.device_read(t, index.at(t.lng, t.lat))
            for t in devices(session=session, community=community)
        ]
    cases, more = open_cases(session=session, user=user, community=community)
    return layers.Scene(
        community=community.ref,
        boundary=community.geometry,
        buildings=buildings,
        roads=rows(session, Road, community.code),
        facilities=[layers.facility_read(f) for f in rows(session, Facility, community.code)],
        cameras=[
            layers.camera_read(c, secret=secret, now=now)
            for c in rows(session, Camera, community.code)
        ],
        devices=found,
        issues=[layers.issue_read(c, names, index.of_case(c)) for c in cases],
        truncated=more,
    )


def board_facts(
    *, session: Session, user: Principal, community: Community, names: Mapping[str, str],
    now: datetime,
) -> boards.Facts:  # fmt: skip
    """Everything the nine boards are computed from (see ``boards.py``)."""
    cams = rows(session, Camera, community.code)
    online = sum(1 for c in cams if c.status is CameraStatus.online)
    found = alarms(session=session, community=community)
    recent, _ = reports(session=session, user=user, community=community, names=names, limit=10)
    where = queries.CaseFilter(jurisdiction=community.code)
    late = queries.CaseFilter(jurisdiction=community.code, overdue_at=now)
    return boards.Facts(
        code=community.code,
        name=community.name,
        area_m2=community.area_m2,
        grids=community.grids,
        buildings=[
            boards.BuildingFact(
                b.name, b.kind.value, b.floors, b.households, b.residents, b.elderly, b.year_built
            )
            for b in rows(session, Building, community.code)
        ],
        facilities=[
            boards.FacilityFact(f.kind.value, f.name, f.opening_hours)
            for f in rows(session, Facility, community.code)
        ],
        cameras_online=online,
        cameras_offline=len(cams) - online,
        devices=len(devices(session=session, community=community)),
        cases=queries.tally(session=session, filters=where),
        overdue=queries.tally(session=session, filters=late),
        alarm_counts={state: len(items) for state, items in found.items()},
        alarms=[
            boards.AlarmFact(a.id, a.state, a.severity, a.message, a.raised_at.isoformat())
            for a in found["active"] + found["acknowledged"]
        ]
        if may_read_alarms(user)
        else None,
        recent_reports=[r.model_dump(mode="json") for r in recent],
        category_names=names,
    )

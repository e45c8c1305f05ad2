"""HTTP routes of the community cockpit (数字社区驾驶舱): twin, buildings, boards, cameras, reports.

The camera snapshot and live routes take no bearer token: a browser tab opened from the camera
list cannot send one. They check the signed link instead (``snapshot.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import HTMLResponse

from cityops.api.deps import Ctx, CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases.models import CaseStatus
from cityops.cases.runtime import get_rules
from cityops.scenarios.community import boards, layers, service, snapshot
from cityops.scenarios.community.models import Camera, CameraStatus
from cityops.scenarios.community.schemas import (
    BoardRead,
    BoardsRead,
    BuildingDetail,
    CameraRead,
    ReportPage,
    TwinCollection,
    TwinSummary,
)
from cityops.scenarios.community.service import Community

router = APIRouter(prefix="/community", tags=["community"])
Code = Annotated[str, Path(description="a 12-digit community code, e.g. 民主村社区's")]
_SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
_LIVE_POLICY = (
    "default-src 'none'; img-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
)


def _names(ctx: Ctx, session: SessionDep) -> dict[str, str]:
    return {c.code: c.name for c in get_rules(ctx, session).catalogue.all()}


def _open(session: SessionDep, user: Principal, code: str) -> Community:
    return service.open_community(session=session, user=user, code=code)


def _scene(ctx: Ctx, session: SessionDep, user: Principal, community: Community) -> layers.Scene:
    return service.scene(
        session=session,
        user=user,
        community=community,
        names=_names(ctx, session),
        secret=ctx.settings.secret_key,
        now=ctx.clock.now(),
    )


@router.get("/cameras/{camera_id}/snapshot.svg", response_class=Response)
def camera_snapshot(
    camera_id: int, ctx: Ctx, session: SessionDep, exp: int | None = None, sig: str | None = None
) -> Response:
    """The camera's current frame (a generated SVG for the demo cameras); signed link only."""
    now = ctx.clock.now()
    snapshot.check(
        secret=ctx.settings.secret_key, camera_id=camera_id, exp=exp, sig=sig,
        now_s=int(now.timestamp()),
    )  # fmt: skip
    camera = service.get_camera(session=session, camera_id=camera_id)
    svg = snapshot.frame_svg(
        camera_id=camera.id, name=camera.name, online=camera.status is CameraStatus.online,
        at=now.astimezone(ctx.settings.tz),
    )  # fmt: skip
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": _SVG_POLICY}
    return Response(svg, media_type="image/svg+xml", headers=headers)


@router.get("/cameras/{camera_id}/live", response_class=HTMLResponse)
def camera_live(
    camera_id: int, ctx: Ctx, session: SessionDep, exp: int | None = None, sig: str | None = None
) -> HTMLResponse:
    """A page showing the camera's snapshot, refreshed every second; signed link only."""
    secret = ctx.settings.secret_key
    snapshot.check(
        secret=secret, camera_id=camera_id, exp=exp, sig=sig,
        now_s=int(ctx.clock.now().timestamp()),
    )  # fmt: skip
    camera = service.get_camera(session=session, camera_id=camera_id)
    assert exp is not None  # checked above
    url = snapshot.sign(
        snapshot.snapshot_path(camera.id), secret=secret, camera_id=camera.id, exp=exp
    )
    page = snapshot.live_html(name=camera.name, snapshot_url=url)
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": _LIVE_POLICY}
    return HTMLResponse(page, headers=headers)


@router.get("/{code}/twin", response_model=TwinCollection)
def get_twin(code: Code, ctx: Ctx, session: SessionDep, user: CurrentUser) -> TwinCollection:
    """The digital twin as GeoJSON: boundary, buildings, roads, facilities, cameras, devices and
    open cases, each feature with ``properties.layer``."""
    scene = _scene(ctx, session, user, _open(session, user, code))
    return TwinCollection(
        community=scene.community, features=layers.features(scene), truncated=scene.truncated
    )


@router.post("/{code}/twin", response_model=TwinSummary)
def make_twin(
    code: Code, ctx: Ctx, session: SessionDep, user: CurrentUser, response: Response, seed: int = 7
) -> TwinSummary:
    """Generate the community's twin if it has none (idempotent; city admin or dispatcher)."""
    user.require_role(Role.city_admin, Role.district_dispatcher)
    _open(session, user, code)
    summary = service.ensure_twin(
        session=session, community_code=code, seed=seed, at=ctx.clock.now(), actor=user.actor
    )
    response.status_code = status.HTTP_201_CREATED if summary.created else status.HTTP_200_OK
    return summary


@router.get("/{code}/buildings/{building_id}", response_model=BuildingDetail)
def get_building(
    code: Code, building_id: int, ctx: Ctx, session: SessionDep, user: CurrentUser
) -> BuildingDetail:
    """One building: households, facilities, cameras, devices and open issues in or at it."""
    community = _open(session, user, code)
    building = service.get_building(session=session, community=community, building_id=building_id)
    return layers.building_detail(_scene(ctx, session, user, community), building)


@router.get("/{code}/boards", response_model=BoardsRead)
def get_boards(code: Code, ctx: Ctx, session: SessionDep, user: CurrentUser) -> BoardsRead:
    """The nine boards (九大板块); each metric says whether it is counted or generated."""
    community = _open(session, user, code)
    now = ctx.clock.now()
    facts = service.board_facts(
        session=session, user=user, community=community, names=_names(ctx, session), now=now
    )
    return BoardsRead(
        community=community.ref,
        at=now,
        boards=[
            BoardRead.model_validate(b, from_attributes=True) for b in boards.build_boards(facts)
        ],
    )


@router.get("/{code}/cameras", response_model=list[CameraRead])
def list_cameras(code: Code, ctx: Ctx, session: SessionDep, user: CurrentUser) -> list[CameraRead]:
    """The community's cameras; ``snapshot_url`` and ``stream_url`` open in one click."""
    community = _open(session, user, code)
    now, secret = ctx.clock.now(), ctx.settings.secret_key
    return [
        layers.camera_read(c, secret=secret, now=now)
        for c in service.rows(session, Camera, community.code)
    ]


@router.get("/{code}/reports", response_model=ReportPage)
def list_reports(
    code: Code,
    ctx: Ctx,
    session: SessionDep,
    user: CurrentUser,
    status_: Annotated[list[CaseStatus] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> ReportPage:
    """Residents' reports (居民上报) with their status, newest first; numbers masked."""
    community = _open(session, user, code)
    items, more = service.reports(
        session=session, user=user, community=community, names=_names(ctx, session),
        status=status_ or [], limit=limit, cursor=cursor,
    )  # fmt: skip
    return ReportPage(community=community.ref, items=items, next_cursor=more)

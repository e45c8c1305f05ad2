"""HTTP routes of the smart river chief (智慧河长)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cityops.api.deps import CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.scenarios.river import patrol_api, registry, service
from cityops.scenarios.river.schemas import AssessIn, AssessRead, RiverList, SectionRead

router = APIRouter(prefix="/river", tags=["river"])

_STAFF = (
    Role.city_admin,
    Role.district_dispatcher,
    Role.street_staff,
    Role.field_worker,
    Role.inspector,
)


@router.post("/assess", response_model=AssessRead)
def assess(body: AssessIn, user: CurrentUser) -> AssessRead:
    """Classify a section's water by GB 3838-2002 and grade black-odorous readings (staff only)."""
    user.require_role(*_STAFF)
    return service.assess(body=body)


@router.get("/rivers", response_model=RiverList)
def list_rivers(session: SessionDep, user: CurrentUser) -> RiverList:
    """Rivers with sections in the caller's jurisdiction, with section and flagged counts."""
    user.require_role(*_STAFF)
    return registry.list_rivers(session=session, user=user)


@router.get("/rivers/{code}")
def river(code: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """The river's sections in the caller's jurisdiction as a GeoJSON FeatureCollection."""
    user.require_role(*_STAFF)
    return registry.river_features(session=session, user=user, code=code)


@router.get("/sections/{code}", response_model=SectionRead)
def section(code: str, session: SessionDep, user: CurrentUser) -> SectionRead:
    """A section (河段): its chiefs by level, the responsible department, its target class."""
    user.require_role(*_STAFF)
    return registry.section_detail(session=session, user=user, code=code)


# Patrols (巡河), patrol duty and patrol KPIs: /river/patrols, /river/duty, /river/kpis.
router.include_router(patrol_api.router)

"""HTTP routes of the smart river chief (智慧河长)."""

from __future__ import annotations

from fastapi import APIRouter

from cityops.api.deps import CurrentUser
from cityops.auth.models import Role
from cityops.scenarios.river import service
from cityops.scenarios.river.schemas import AssessIn, AssessRead

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

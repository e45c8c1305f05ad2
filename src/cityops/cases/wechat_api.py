"""The WeChat mini-program door: its report shape, a thin adapter onto resident intake.

The mini-program sends ``wx.getLocation`` coordinates (GCJ-02) and ``images`` as the refs that
``POST /photos`` returned (a bare ``<sha256>.<ext>`` is taken as ``photo:<sha256>.<ext>``). The
report becomes a ``CaseCreate`` on the resident channel and goes through the same intake as
``POST /cases``; intake converts GCJ-02 to WGS84. ``openid`` is accepted and not stored: the
bearer token already names the resident.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from cityops.api import limits
from cityops.api.deps import CurrentUser, SessionDep
from cityops.cases import intake
from cityops.cases.api import RulesDep, intake_read
from cityops.cases.models import Channel
from cityops.cases.schemas import CaseCreate, IntakeRead, Point, WechatReportCreate
from cityops.errors import ValidationFailed
from cityops.photos.formats import REF_PREFIX

router = APIRouter(tags=["cases"])


def to_case_create(data: WechatReportCreate) -> CaseCreate:
    """The mini-program's payload as a resident report (pure)."""
    if data.category is None:
        raise ValidationFailed(
            "pick a category: automatic classification of the text is not available yet",
            code="category_required",
        )
    return CaseCreate(
        category=data.category,
        channel=Channel.resident,
        location=Point(lat=data.location.latitude, lng=data.location.longitude, crs="GCJ-02"),
        description=data.desc,
        address=data.address,
        photos=[ref if ":" in ref else REF_PREFIX + ref for ref in data.images],
    )


@router.post("/wechat/reports", response_model=IntakeRead, status_code=status.HTTP_201_CREATED)
def wechat_report(
    data: WechatReportCreate,
    session: SessionDep,
    rules: RulesDep,
    user: CurrentUser,
    request: Request,
) -> IntakeRead:
    """Report a problem from the WeChat mini-program (GCJ-02 location, photo refs)."""
    limits.check_reports(request, user)
    result = intake.report(
        session=session,
        rules=rules,
        data=to_case_create(data),
        actor=user,
        at=rules.clock.now(),
    )
    return intake_read(rules, result, user)

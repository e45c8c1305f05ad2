"""The WeChat mini-program door: its report shape, a thin adapter onto resident intake.

The mini-program sends ``wx.getLocation`` coordinates (GCJ-02) and ``images`` as the refs that
``POST /photos`` returned (a bare ``<sha256>.<ext>`` is taken as ``photo:<sha256>.<ext>``). The
report becomes a ``CaseCreate`` on the resident channel and goes through the same intake as
``POST /cases``; intake converts GCJ-02 to WGS84, classifies a report without a category and
places one without a location by the place its text names. ``openid`` is accepted and not
stored: the bearer token already names the resident.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from cityops.api import limits
from cityops.api.deps import CurrentUser, SessionDep
from cityops.cases import intake
from cityops.cases.api import RulesDep, intake_read
from cityops.cases.models import Channel
from cityops.cases.schemas import CaseCreate, IntakeRead, Point, WechatReportCreate
from cityops.photos.formats import REF_PREFIX

router = APIRouter(tags=["cases"])


def to_case_create(data: WechatReportCreate) -> CaseCreate:
    """The mini-program's payload as a resident report (pure).

    Without ``category`` intake classifies ``desc``; without ``location`` it looks for a place
    named in ``address`` or ``desc`` (gazetteer).
    """
    loc = data.location
    return CaseCreate(
        category=data.category,
        channel=Channel.resident,
        location=Point(lat=loc.latitude, lng=loc.longitude, crs="GCJ-02") if loc else None,
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

"""云上监督: a community's recent cases for every resident to see, personal data masked.

Only cases someone has taken up are shown (accepted, or filed automatically, and onwards): an
unreviewed report or a voided one (作废) may say anything, and the board is public.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases import masking
from cityops.cases.models import Case, CaseStatus
from cityops.cases.schemas import BoardCaseRead, BoardPoint

NOT_SHOWN = (CaseStatus.reported, CaseStatus.void)


def recent(*, session: Session, community: str, limit: int) -> list[Case]:
    """The community's newest cases that may be shown (index ix_case_community)."""
    stmt = (
        select(Case)
        .where(Case.community_code == community, Case.status.not_in(NOT_SHOWN))
        .order_by(Case.reported_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def entry(case: Case, *, category_name: str | None) -> BoardCaseRead:
    """The public view of one case."""
    lat, lng = masking.coarse(case.lat, case.lng)
    return BoardCaseRead(
        id=case.id,
        category_code=case.category_code,
        category_name=category_name,
        status=case.status,
        description=masking.mask_text(case.description, names=[case.reporter_name]),
        reported_at=case.reported_at,
        closed_at=case.closed_at,
        satisfaction=case.satisfaction,
        location=BoardPoint(lat=lat, lng=lng),
    )

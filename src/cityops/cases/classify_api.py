"""Text understanding routes: ``POST /classify`` and the 受理员 queue ``GET /intake/queue``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cityops.api.deps import CurrentUser, SessionDep
from cityops.auth.models import Role
from cityops.cases import queries, understand
from cityops.cases.api import RulesDep, read_case
from cityops.cases.classify import MAX_TEXT, checked_text
from cityops.cases.models import CaseStatus
from cityops.cases.schemas import CasePage
from cityops.errors import Forbidden

router = APIRouter(tags=["cases"])
ACCEPTORS = frozenset({Role.city_admin, Role.district_dispatcher, Role.street_staff})


class ClassifyRequest(BaseModel):
    text: str = Field(max_length=MAX_TEXT, description="the report's description")
    caption: str | None = Field(default=None, max_length=500, description="a photo caption")
    district_code: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="the reporter's district: breaks name ties"
    )


class SuggestionRead(BaseModel):
    category: str
    name: str
    confidence: float


class PlaceRead(BaseModel):
    matched: str
    name: str
    kind: str
    detail: str
    lat: float
    lng: float
    district_code: str | None
    street_code: str | None
    community_code: str | None
    confidence: float
    candidates: list[dict[str, object]]


class ClassifyRead(BaseModel):
    suggestions: list[SuggestionRead]
    place: PlaceRead | None
    auto: bool = Field(description="top-1 confidence ≥ CITYOPS_CLASSIFY_MIN_CONFIDENCE")


@router.post("/classify", response_model=ClassifyRead)
def classify(
    data: ClassifyRequest, session: SessionDep, rules: RulesDep, user: CurrentUser
) -> ClassifyRead:
    """The three likeliest categories for a text, and the place it names (if any)."""
    del user
    text = checked_text(data.text, data.caption)
    (guess,) = understand.classify_texts(rules, [text])
    match = understand.place_of(rules, session, data.text, district_code=data.district_code)
    place = None
    if match is not None:
        facts = understand.place_facts(match)
        facts.pop("by")
        place = PlaceRead.model_validate(facts)
    return ClassifyRead(
        suggestions=[
            SuggestionRead(category=s.code, name=s.name, confidence=s.confidence)
            for s in guess.suggestions
        ],
        place=place,
        auto=guess.auto,
    )


@router.get("/intake/queue", response_model=CasePage)
def intake_queue(
    session: SessionDep,
    rules: RulesDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> CasePage:
    """受理员 queue: reports filed under a low-confidence guess, waiting to be accepted."""
    if user.role not in ACCEPTORS:
        raise Forbidden("the intake queue is for acceptors and dispatchers", code="forbidden")
    result = queries.list_cases(
        session=session,
        user=user,
        filters=queries.CaseFilter(status=[CaseStatus.reported], needs_review=True),
        limit=limit,
        cursor=cursor,
    )
    return CasePage(
        items=[read_case(rules, c, user) for c in result.items],
        total=None,
        next_cursor=result.next_cursor,
        page_size=limit,
    )

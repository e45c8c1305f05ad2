"""GeoReport v2 over the case engine: services from the catalogue, requests from cases.

A service is one of our categories (service_code = 小类代码, group = 大类). A POSTed request is a
resident report taken by ``cases.intake.report`` in the caller's transaction (without
``service_code`` its description is classified; without ``lat``/``long`` it is placed by the place
its ``address_string`` or description names, else refused); it gets a token
(kept as the report's ``external_ref``) and, since cases are created at once, its
service_request_id (the 案卷号) straight away. A request read back says ``open`` or ``closed``;
``status_notes`` names the real step (已受理, 已立案, 已派遣, 处置中, 已核查, 已结案, ...).

Nothing personal is ever returned: no name, phone or e-mail; the description and address are
masked as on the public board (cases/masking.py) and the point is rounded to about 100 m. A
report nobody has accepted yet, or one voided, shows its status but not its text.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases import intake, masking
from cityops.cases.board import NOT_SHOWN
from cityops.cases.categories import Category
from cityops.cases.lifecycle import OPEN_STATES, STATUS_ZH
from cityops.cases.models import Case, CaseReport, CaseStatus, Channel
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate, Point
from cityops.clock import as_utc
from cityops.errors import NotFound, ValidationFailed
from cityops.open311.schemas import ListQuery, RequestCreate
from cityops.registry.models import Department

MAX_SPAN = timedelta(days=90)  # the spec: at most 90 days, by default the last 90
MAX_RESULTS = 1000  # the spec's default limit
TOKEN_PREFIX = "open311:"
MAX_ID = 2**31 - 1  # case.id is a 32-bit integer column
ACTOR = Principal(user_id=0, username="open311", role=Role.resident, scope_code=None)


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of every service definition; values are (key, name) for list types."""

    code: str
    datatype: str
    description: str
    datatype_description: str = ""
    required: bool = False
    values: tuple[tuple[str, str], ...] = ()


# Our categories need nothing beyond the spec's own fields; these two help the handler find and
# weigh the problem, and are written into the case description.
ATTRIBUTES = (
    Attribute("LOCATION_DETAIL", "string", "具体位置 (楼栋、门牌、地标)", "例如：民主村3栋门口"),
    Attribute(
        "URGENCY",
        "singlevaluelist",
        "紧急程度",
        "一般 / 较急 / 紧急",
        values=(("1", "一般"), ("2", "较急"), ("3", "紧急")),
    ),
)
_BY_CODE = {a.code: a for a in ATTRIBUTES}


def service_entry(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.filing_criteria,
        "metadata": True,
        "type": "realtime",
        "keywords": ",".join(category.keywords),
        "group": category.major_name,
    }


def services(rules: CaseRules) -> list[dict[str, Any]]:
    return [service_entry(c) for c in rules.catalogue.public()]


def _category(rules: CaseRules, code: str) -> Category:
    """The category behind a service code; an internal one (filed by staff only) is no service."""
    category = rules.catalogue.get(code) if code in rules.catalogue else None
    if category is None or category.internal:
        raise NotFound(f"service_code {code} not found", code="unknown_service")
    return category


def definition(rules: CaseRules, code: str) -> dict[str, Any]:
    category = _category(rules, code)
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": a.code,
                "datatype": a.datatype,
                "required": a.required,
                "datatype_description": a.datatype_description,
                "order": i,
                "description": a.description,
                "values": [{"key": k, "name": n} for k, n in a.values],
            }
            for i, a in enumerate(ATTRIBUTES, start=1)
        ],
    }


def _attribute_text(given: dict[str, list[str]]) -> str:
    """The attributes as a line of the description, after checking them against ATTRIBUTES."""
    parts: list[str] = []
    for code, values in given.items():
        attr = _BY_CODE.get(code)
        if attr is None:
            raise ValidationFailed(f"attribute {code} is not defined", code="bad_request")
        if attr.datatype == "singlevaluelist":
            names = dict(attr.values)
            if len(values) != 1 or values[0] not in names:
                raise ValidationFailed(
                    f"attribute {code} takes one of {', '.join(names)}", code="bad_request"
                )
            values = [names[values[0]]]
        parts.append(f"{attr.description}: {'、'.join(v.strip() for v in values)}")
    return "；".join(parts)


def create_request(
    *, session: Session, rules: CaseRules, data: RequestCreate, at: datetime
) -> dict[str, Any]:
    """Take the request as a resident report; the spec's POST answer for it."""
    if data.service_code is None and not data.description:
        raise ValidationFailed("service_code is required (or a description)", code="bad_request")
    code = _category(rules, data.service_code).code if data.service_code else None
    if (data.lat is None or data.long is None) and not (data.address_string or data.description):
        raise ValidationFailed("a location is required: lat and long", code="bad_request")
    extra = _attribute_text(data.attribute)
    description = "\n".join(t for t in (data.description, extra) if t)
    if len(description) > rules.settings.max_text_length:
        raise ValidationFailed("description with attributes is too long", code="bad_request")
    token = secrets.token_hex(12)
    try:
        report = CaseCreate(
            category=code,
            channel=Channel.resident,
            location=None
            if data.lat is None or data.long is None
            else Point(lat=data.lat, lng=data.long),
            description=description,
            address=data.address_string,
            photos=[data.media_url] if data.media_url else [],
            reporter_name=data.reporter_name,
            reporter_phone=data.phone,
            external_ref=TOKEN_PREFIX + token,
        )
    except ValidationError as exc:  # e.g. first_name and last_name together over 50
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ValidationFailed(f"{where}: {first['msg']}", code="bad_request") from None
    result = intake.report(session=session, rules=rules, actor=ACTOR, at=at, data=report)
    case = result.case
    notice = (
        f"与已有案件 {case.case_no} 合并处理"
        if result.duplicate
        else f"已收到，案卷号 {case.case_no}"
    )
    return {
        "service_request_id": case.case_no,
        "token": token,
        "service_notice": notice,
        "account_id": data.account_id,
    }


def case_id_of(request_id: str) -> int | None:
    """The case id in a 案卷号 (``500107-2026-00000042``), or None if it is not one."""
    parts = request_id.strip().split("-")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    case_id = int(parts[2])
    return case_id if case_id <= MAX_ID else None  # beyond the column: no such case


def _iso(at: datetime | None, rules: CaseRules) -> str | None:
    return as_utc(at).astimezone(rules.settings.tz).isoformat() if at is not None else None


def request_entry(rules: CaseRules, case: Case, agency: str | None) -> dict[str, Any]:
    """The public view of one case as a GeoReport request."""
    status = CaseStatus(case.status)
    shown = status not in NOT_SHOWN
    lat, lng = masking.coarse(case.lat, case.lng)
    names = [case.reporter_name]
    closed = status not in OPEN_STATES
    photos: list[str] = json.loads(case.photos) if case.photos else []
    photo = photos[0] if photos else ""
    try:
        service_name: str | None = rules.catalogue.get(case.category_code).name
    except NotFound:
        service_name = None
    return {
        "service_request_id": case.case_no,
        "status": "closed" if closed else "open",
        "status_notes": STATUS_ZH[status],
        "service_name": service_name,
        "service_code": case.category_code,
        "description": masking.mask_text(case.description, names=names) if shown else "",
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": _iso(case.reported_at, rules),
        "updated_datetime": _iso(
            case.closed_at if closed and case.closed_at else case.updated_at, rules
        ),
        "expected_datetime": _iso(case.deadline_at, rules),
        "address": masking.mask_text(case.address, names=names) if case.address and shown else None,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lng,
        "media_url": photo if shown and photo.startswith(("http://", "https://")) else None,
    }


def _entries(session: Session, rules: CaseRules, cases: list[Case]) -> list[dict[str, Any]]:
    ids = {c.department_id for c in cases if c.department_id is not None}
    stmt = select(Department.id, Department.name).where(Department.id.in_(ids))
    names: dict[int, str] = {i: n for i, n in session.execute(stmt)} if ids else {}
    return [request_entry(rules, c, names.get(c.department_id or -1)) for c in cases]


def get_request(*, session: Session, rules: CaseRules, request_id: str) -> list[dict[str, Any]]:
    case_id = case_id_of(request_id)
    case = session.get(Case, case_id) if case_id is not None else None
    if case is None or case.case_no != request_id.strip():
        raise NotFound(f"service_request_id {request_id} not found", code="unknown_request")
    return _entries(session, rules, [case])


def list_requests(
    *, session: Session, rules: CaseRules, query: ListQuery, now: datetime
) -> list[dict[str, Any]]:
    """The newest requests matching the query, at most MAX_RESULTS."""
    stmt = select(Case)
    if query.ids:
        wanted = {i.strip(): case_id_of(i) for i in query.ids}
        stmt = stmt.where(Case.id.in_([i for i in wanted.values() if i is not None]))
        cases = [c for c in session.execute(stmt).scalars() if c.case_no in wanted]
        return _entries(session, rules, sorted(cases, key=lambda c: c.id))
    start, end = period(query.start, query.end, now)
    stmt = stmt.where(Case.reported_at >= start, Case.reported_at <= end)
    if query.service_codes:
        stmt = stmt.where(Case.category_code.in_(query.service_codes))
    if query.statuses:
        want_open, want_closed = "open" in query.statuses, "closed" in query.statuses
        if want_open != want_closed:
            states = OPEN_STATES if want_open else set(CaseStatus) - OPEN_STATES
            stmt = stmt.where(Case.status.in_(sorted(states)))
    stmt = stmt.order_by(Case.reported_at.desc(), Case.id.desc()).limit(MAX_RESULTS)
    return _entries(session, rules, list(session.execute(stmt).scalars()))


def period(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The spec's window: given ends, else the 90 days next to the one given, else the last 90."""
    if start is None and end is None:
        return now - MAX_SPAN, now
    if start is None:
        assert end is not None
        return end - MAX_SPAN, end
    if end is None:
        return start, start + MAX_SPAN
    if end < start:
        raise ValidationFailed("end_date is before start_date", code="bad_request")
    if end - start > MAX_SPAN:
        raise ValidationFailed(
            "start_date to end_date may not span more than 90 days", code="bad_request"
        )
    return start, end


def resolve_token(*, session: Session, token: str) -> list[dict[str, Any]]:
    stmt = (
        select(Case)
        .join(CaseReport, CaseReport.case_id == Case.id)
        .where(CaseReport.external_ref == TOKEN_PREFIX + token.strip())
    )
    case = session.execute(stmt.limit(1)).scalars().first()
    if case is None:
        raise NotFound(f"token {token} not found", code="unknown_token")
    return [{"service_request_id": case.case_no, "token": token.strip()}]

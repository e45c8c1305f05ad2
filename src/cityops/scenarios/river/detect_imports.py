"""Other sources of pollution events (issue 6 §5): drone, unmanned-boat, satellite and AI-video
detections, imported in batches of up to 1,000.

Each item is taken on its own, in a savepoint, so good items are kept when others fail: it is
validated, its point converted from GCJ-02 if so sent, and given to the nearest section within
``river_detection_max_distance_m`` (none: the item's error ``no_section_near``). At or above
``river_detection_min_confidence`` it becomes a river event with its case (``events.open_event``);
below, it waits as ``needs_review`` for a dispatcher to accept (the event then) or reject.
Items are idempotent on (source, external_id): one sent again answers its stored outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.auth.scope import Principal
from cityops.cases.rules import CaseRules
from cityops.errors import CityOpsError, Conflict, NotFound, ValidationFailed
from cityops.geo.coords import gcj02_to_wgs84
from cityops.ledger import service as ledger
from cityops.scenarios.river import events
from cityops.scenarios.river.models import (
    DetectionStatus,
    EventSource,
    RiverDetection,
    RiverEvent,
    Section,
)
from cityops.scenarios.river.nearest import SectionFinder
from cityops.scenarios.river.registry import visible
from cityops.scenarios.river.schemas import (
    DetectionBatchRead,
    DetectionIn,
    DetectionPage,
    DetectionRead,
    DetectionResult,
    ItemError,
)

KIND_ZH = {
    "floating_debris": "水面漂浮物",
    "oil_sheen": "水面油污",
    "discharge_outfall": "排污口排放",
    "black_water": "水体发黑",
    "algae": "藻类水华",
}
Key = tuple[str, str]


def import_detections(
    *,
    session: Session,
    rules: CaseRules,
    user: Principal,
    items: Sequence[Mapping[str, Any]],
    at: datetime,
) -> DetectionBatchRead:
    """Take a batch; per item its outcome (see the module)."""
    settings = rules.settings
    sections = {s.id: s for s in session.execute(select(Section)).scalars()}
    finder = SectionFinder((s.id, s.geometry) for s in sections.values())
    parsed: list[DetectionIn | ItemError] = [_parse(raw) for raw in items]
    stored = _stored(session, [p for p in parsed if isinstance(p, DetectionIn)])
    out: list[DetectionResult] = []
    for i, item in enumerate(parsed):
        if isinstance(item, ItemError):
            out.append(DetectionResult(index=i, status="error", error=item))
            continue
        key = (item.source, item.external_id)
        if key in stored:
            out.append(_result(i, session, stored[key], duplicate=True))
            continue
        lng, lat = (
            (item.lng, item.lat) if item.crs == "wgs84" else gcj02_to_wgs84(item.lng, item.lat)
        )
        max_m = settings.river_detection_max_distance_m
        near = finder.nearest(lat, lng, max_m)
        if near is None:
            msg = f"no river section within {max_m:g} m of ({lat:.6f}, {lng:.6f})"
            out.append(_error(i, "no_section_near", msg))
            continue
        section, distance = sections[near[0]], near[1]
        if not user.covers(section.street_code):
            msg = f"section {section.code} is outside your jurisdiction"
            out.append(_error(i, "outside_jurisdiction", msg))
            continue
        try:
            with session.begin_nested():
                row = _keep(session, rules, user, item, section, lat, lng, distance, at)
        except IntegrityError:  # the same item from a concurrent batch got in first
            again = _stored(session, [item]).get(key)
            if again is None:
                raise
            out.append(_result(i, session, again, duplicate=True))
            continue
        except CityOpsError as exc:
            out.append(_error(i, exc.code, exc.message))
            continue
        stored[key] = row
        out.append(_result(i, session, row, duplicate=False))
    count = {s: sum(r.status == s for r in out) for s in ("accepted", "needs_review", "error")}
    return DetectionBatchRead(
        items=out,
        accepted=count["accepted"],
        needs_review=count["needs_review"],
        errors=count["error"],
    )


def _parse(raw: Mapping[str, Any]) -> DetectionIn | ItemError:
    try:
        return DetectionIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "item"
        return ItemError(code="invalid_item", message=f"{where}: {first['msg']}")


def _error(index: int, code: str, message: str) -> DetectionResult:
    return DetectionResult(index=index, status="error", error=ItemError(code=code, message=message))


def _stored(session: Session, items: Sequence[DetectionIn]) -> dict[Key, RiverDetection]:
    keys = list({(EventSource(i.source), i.external_id) for i in items})
    if not keys:
        return {}
    rows = session.execute(
        select(RiverDetection).where(
            tuple_(RiverDetection.source, RiverDetection.external_id).in_(keys)
        )
    ).scalars()
    return {(r.source.value, r.external_id): r for r in rows}


def _case_of(session: Session, row: RiverDetection) -> int | None:
    if row.event_id is None:
        return None
    return session.get(RiverEvent, row.event_id).case_id  # type: ignore[union-attr]


def _result(
    index: int, session: Session, row: RiverDetection, *, duplicate: bool
) -> DetectionResult:
    section = session.get(Section, row.section_id)
    return DetectionResult(
        index=index,
        status=row.status.value,
        detection_id=row.id,
        case_id=_case_of(session, row),
        event_id=row.event_id,
        section=section.code if section else None,
        distance_m=round(row.distance_m, 1),
        duplicate=duplicate,
    )


def _keep(
    session: Session,
    rules: CaseRules,
    user: Principal,
    item: DetectionIn,
    section: Section,
    lat: float,
    lng: float,
    distance: float,
    at: datetime,
) -> RiverDetection:
    row = RiverDetection(
        source=EventSource(item.source), external_id=item.external_id, kind=item.kind,
        lat=lat, lng=lng, confidence=item.confidence, image_ref=item.image_ref,
        detected_at=item.detected_at, received_at=at, section_id=section.id,
        distance_m=distance, status=DetectionStatus.needs_review,
    )  # fmt: skip
    session.add(row)
    session.flush()
    if item.confidence >= rules.settings.river_detection_min_confidence:
        _open(session, rules, row, section, user.actor, at)
    return row


def _open(
    session: Session,
    rules: CaseRules,
    row: RiverDetection,
    section: Section,
    actor: str,
    at: datetime,
) -> None:
    """The detection becomes a river event with its case."""
    what = KIND_ZH.get(row.kind, row.kind)
    source = events.SOURCE_ZH[row.source]
    detection = events.Detection(
        source=row.source, detector=row.kind, detected_at=row.detected_at, lat=row.lat,
        lng=row.lng, confidence=row.confidence, image_ref=row.image_ref,
        evidence={"detection_id": row.id, "external_id": row.external_id, "kind": row.kind},
    )  # fmt: skip
    image = f"; 影像 {row.image_ref}" if row.image_ref else ""
    event = events.open_event(
        session=session,
        rules=rules,
        section=section,
        detection=detection,
        title=f"{what}({source}发现)",
        description=(
            f"{source}于 {row.detected_at.isoformat()} 发现{what}, 置信度 {row.confidence:.2f}, "
            f"{section.name}{image}"
        ),
        external_ref=f"{row.source.value}:{row.external_id}",
        actor=actor,
        at=at,
    )
    row.status, row.event_id = DetectionStatus.accepted, event.id


def review(
    *,
    session: Session,
    rules: CaseRules,
    user: Principal,
    detection_id: int,
    accept: bool,
    reason: str | None,
    at: datetime,
) -> DetectionRead:
    """A dispatcher's decision on a detection waiting for review: accept (an event and its case)
    or reject; 404 outside the caller's jurisdiction, 409 if it was decided already."""
    row = session.execute(
        select(RiverDetection).where(RiverDetection.id == detection_id).with_for_update()
    ).scalar()
    section = session.get(Section, row.section_id) if row is not None else None
    if row is None or section is None or not user.covers(section.street_code):
        raise NotFound(f"detection {detection_id} not found", code="detection_not_found")
    if row.status is not DetectionStatus.needs_review:
        raise Conflict(
            f"detection {detection_id} is {row.status.value}, not waiting for review",
            code="not_pending",
        )
    if accept:
        _open(session, rules, row, section, user.actor, at)
    else:
        if not reason:
            raise ValidationFailed("rejecting a detection needs a reason", code="missing_field")
        row.status = DetectionStatus.rejected
    row.reviewed_by, row.reviewed_at = user.actor, at
    ledger.append(
        session=session, at=at, actor=user.actor,
        action=f"river.detection_{row.status.value}", subject=f"river_detection:{row.id}",
        payload={"event_id": row.event_id, "reason": reason, "section": section.code},
    )  # fmt: skip
    session.flush()
    return _read(row, section, _case_of(session, row))


def _read(row: RiverDetection, section: Section, case_id: int | None) -> DetectionRead:
    return DetectionRead(
        id=row.id, source=row.source.value, external_id=row.external_id, kind=row.kind,
        lat=row.lat, lng=row.lng, confidence=row.confidence, image_ref=row.image_ref,
        detected_at=row.detected_at, received_at=row.received_at, status=row.status.value,
        section=section.code, section_name=section.name, distance_m=round(row.distance_m, 1),
        event_id=row.event_id, case_id=case_id, reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
    )  # fmt: skip


def list_detections(
    *, session: Session, user: Principal, status: DetectionStatus | None, limit: int
) -> DetectionPage:
    """Detections on sections the caller sees, newest first (the review queue: needs_review)."""
    stmt = (
        select(RiverDetection, Section, RiverEvent.case_id)
        .join(Section, Section.id == RiverDetection.section_id)
        .outerjoin(RiverEvent, RiverEvent.id == RiverDetection.event_id)
        .where(visible(user))
    )
    if status is not None:
        stmt = stmt.where(RiverDetection.status == status)
    rows = session.execute(
        stmt.order_by(RiverDetection.received_at.desc(), RiverDetection.id.desc()).limit(limit)
    ).all()
    items = [_read(d, s, cid) for d, s, cid in rows]
    return DetectionPage(items=items, total=len(items))

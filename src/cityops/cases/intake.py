"""Intake (上报 → 受理 → 立案 → 派遣): reports become cases, or join the open case they repeat.

智能立案: a report whose category allows auto-filing, that falls in a unit grid and carries
evidence (a photo, or a description for trusted channels) is accepted, filed and dispatched in
the same transaction, each step with its own ledger entry.

One path serves a single report and a batch (video analytics, sensor gateways and hotline
imports send batches): a batch is one transaction, read with one query per concern and written
with multi-row inserts, so throughput does not pay per-statement overhead per case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from cityops.auth.scope import Principal
from cityops.bus.memory import queue_event
from cityops.cases import assign, follow, understand
from cityops.cases.dispatch import Candidate
from cityops.cases.duplicates import find_duplicates
from cityops.cases.intake_check import Item, locate, validate
from cityops.cases.models import PUBLIC_CHANNELS, Case, CaseReport, CaseStatus, Channel
from cityops.cases.plans import EscalationStep
from cityops.cases.rules import CaseRules
from cityops.cases.schedule import next_step, step_time
from cityops.cases.schemas import CaseCreate
from cityops.cases.service import case_fact, case_steps
from cityops.errors import CityOpsError, ValidationFailed
from cityops.geo.cells import cell_of
from cityops.ledger import service as ledger
from cityops.registry.models import Staff
from cityops.store.bulk import insert_new, insert_rows, new_row

AUTO_ACTOR = "system:auto-filing"
DISPATCH_ACTOR = "system:auto-dispatch"
# Channels whose reports are trusted without a photo (staff, machines, leaders).
TRUSTED = frozenset(
    {Channel.inspector, Channel.video, Channel.sensor, Channel.patrol, Channel.leader}
)
STAFF_CHANNELS = frozenset(
    {
        Channel.inspector,
        Channel.patrol,
        Channel.leader,
        Channel.hotline,
        Channel.video,
        Channel.sensor,
    }
)
MAX_BATCH = 500

_CASES = cast(Table, Case.__table__)
_STAFF = cast(Table, Staff.__table__)
_REPORTS = cast(Table, CaseReport.__table__)
_LINK = (
    update(_CASES)
    .where(_CASES.c.id == bindparam("cid"))
    .values(
        report_count=_CASES.c.report_count + bindparam("n"),
        updated_at=bindparam("at"),
        version=_CASES.c.version + 1,
    )
)
_HOLD = (
    update(_STAFF)
    .where(_STAFF.c.id == bindparam("sid"))
    .values(open_cases=_STAFF.c.open_cases + bindparam("n"))
)


@dataclass(frozen=True, slots=True)
class IntakeResult:
    case: Case
    duplicate: bool
    auto_filed: bool
    dispatched: bool


def _meets_filing_criteria(it: Item) -> bool:
    if it.needs_review:
        return False
    if not it.category.auto_file or it.place is None or it.place.grid_code is None:
        return False
    data = it.data
    if data.channel in TRUSTED:
        return bool(data.photos or data.description.strip())
    return bool(data.photos) and len(data.description.strip()) >= 4


def _new_case(rules: CaseRules, it: Item, actor: Principal, at: datetime) -> Case:
    data, place = it.data, it.place
    assert place is not None and place.district_code and place.street_code
    return new_row(
        Case,
        dict(
            kind=it.category.kind,
            category_code=it.category.code,
            major_code=it.category.code[:2],
            catalogue_version=rules.catalogue.version,
            title=(data.title or it.category.name)[:120],
            description=data.description,
            channel=data.channel,
            status=CaseStatus.reported,
            lat=it.lat,
            geo_cell=cell_of(it.lat, it.lng),
            lng=it.lng,
            address=data.address or understand.place_words(it.located),
            district_code=place.district_code,
            street_code=place.street_code,
            community_code=place.community_code,
            grid_code=place.grid_code,
            component_ident=data.component_ident,
            reporter_user_id=actor.user_id or None,
            reporter_staff_id=actor.staff_id if data.channel in STAFF_CHANNELS else None,
            reporter_name=data.reporter_name,
            reporter_phone=data.reporter_phone,
            reporter_id_number=data.reporter_id_number,
            reported_at=at,
            updated_at=at,
            photos=json.dumps(data.photos) if data.photos else None,
            report_count=1,
            extension_count=0,
            rework_count=0,
            return_count=0,
            escalation_level=0,
            near_overdue_warned=False,
            self_handled=False,
            auto_filed=False,
            needs_review=it.needs_review,
            classification=understand.how_found(it.guess, it.located),
        ),
    )


# json.dumps with an option builds an encoder per call; the batch's cases share this one.
_REASONS = json.JSONEncoder(ensure_ascii=False)


def _auto_dispatch(session: Session, rules: CaseRules, items: list[Item], at: datetime) -> None:
    """Accept, file and dispatch the batch's auto-filed cases: department, worker, deadline."""
    chosen: list[tuple[Item, assign.DeptEntry, str, list[str]]] = []
    # Without a component owner the plan depends only on category and place: resolve it once
    # per (category, street) in the batch (the reasons list is shared, never changed after).
    plans: dict[tuple[str, str, str], tuple[assign.DeptEntry, str, list[str]]] = {}
    for it in items:
        case = it.case
        assert case is not None
        owner = assign.owner_of(session, rules, it.data.component_ident)
        key = (case.category_code, case.district_code, case.street_code)
        found = plans.get(key) if owner is None else None
        if found is None:
            found = assign.responsible(session, rules, case, owner)
            if owner is None:
                plans[key] = found
        chosen.append((it, *found))
    pools: dict[int, list[Candidate]] = assign.candidates(
        session, rules, sorted({d.id for _, d, _, _ in chosen}), at
    )
    # The batch's cases share their dispatch time: a deadline depends only on the time limit,
    # and a next check only on the limit and the escalation step that comes first.
    deadlines: dict[str, datetime] = {}
    checks: dict[tuple[str, EscalationStep], datetime | None] = {}
    for it, dept, level, why in chosen:
        case = it.case
        assert case is not None
        done = assign.pick(pools[dept.id], dept, level, why, case.lat, case.lng)
        limit = it.category.time_limit
        text = str(limit)
        if text not in deadlines:
            deadlines[text] = rules.calendar.deadline(at, limit)
        # Not inserted yet (store.bulk.new_row): its dict is what insert_new writes.
        case.__dict__.update(
            status=CaseStatus.dispatched,
            auto_filed=True,
            accepted_at=at,
            filed_at=at,
            dispatched_at=at,
            department_id=done.department_id,
            handling_level=done.handling_level,
            worker_id=done.worker_id,
            dispatch_reason=_REASONS.encode(done.reasons),
            time_limit=text,
            deadline_at=deadlines[text],
        )
        step = next_step(rules, case)
        if step is not None and (text, step) not in checks:
            checks[text, step] = step_time(rules, case, step)
        case.__dict__["next_check_at"] = checks[text, step] if step is not None else None
        it.dispatch_facts = {
            "department_id": done.department_id,
            "worker_id": done.worker_id,
            "handling_level": done.handling_level,
            "deadline_at": deadlines[text].isoformat(),
            "reasons": done.reasons,
        }


def report_batch(
    *, session: Session, rules: CaseRules, items: list[CaseCreate], actor: Principal, at: datetime
) -> list[IntakeResult | CityOpsError]:
    """Take reports in the caller's transaction; a refused report is returned as its error."""
    if len(items) > MAX_BATCH:
        raise ValidationFailed(f"at most {MAX_BATCH} reports per batch", code="batch_too_large")
    planned: list[Item | CityOpsError] = []
    guesses = understand.guesses_for(rules, items)
    for data, guess in zip(items, guesses, strict=True):
        try:
            planned.append(validate(session, rules, data, actor, guess))
        except CityOpsError as exc:
            planned.append(exc)
    locate(rules, planned)
    follow.link_chosen(session=session, rules=rules, items=planned)
    good = [it for it in planned if isinstance(it, Item)]
    find_duplicates(session=session, rules=rules, items=good, at=at)
    fresh = [it for it in good if it.link_to is None and it.link_item is None]
    for it in fresh:
        it.case = _new_case(rules, it, actor, at)
        it.auto = _meets_filing_criteria(it)
    for it in good:
        if it.link_item is not None:
            first = good[it.link_item].case
            assert first is not None
            first.report_count += 1
    auto = [it for it in fresh if it.auto]
    if auto:  # decided before the insert, so each case is written once, in its final state
        _auto_dispatch(session, rules, auto, at)
    insert_new(session, [it.case for it in fresh if it.case is not None])
    _write(session, good, actor, at)
    return _results(session, planned, good)


def _write(session: Session, good: list[Item], actor: Principal, at: datetime) -> None:
    """Reports, duplicate links, workers' open work, ledger entries and events."""
    reports: list[dict[str, Any]] = []
    links: dict[int, int] = {}  # case id → repeats linked to it
    holds: dict[int, int] = {}  # worker id → cases added to their open work
    facts: list[ledger.Fact] = []
    events: list[tuple[str, dict[str, Any]]] = []
    for it in good:
        target = it.case or (good[it.link_item].case if it.link_item is not None else None)
        case_id = target.id if target is not None else it.link_to
        data = it.data
        reports.append(
            {
                "case_id": case_id,
                "channel": data.channel,
                "reported_at": at,
                "text": data.description,
                "lat": it.lat,
                "lng": it.lng,
                "reporter_user_id": actor.user_id or None,
                "reporter_name": data.reporter_name,
                "reporter_phone": data.reporter_phone,
                "reporter_id_number": data.reporter_id_number,
                "external_ref": data.external_ref,
                "duplicate": it.case is None,
            }
        )
        if it.link_to is not None:
            links[it.link_to] = links.get(it.link_to, 0) + 1
    for cid, n in links.items():
        session.execute(_LINK, {"cid": cid, "n": n, "at": at})
    linked = (
        {
            c.id: c
            for c in session.execute(
                select(Case)
                .where(Case.id.in_(list(links)))
                .execution_options(populate_existing=True)
            ).scalars()
        }
        if links
        else {}
    )
    for it in good:
        case = it.case
        if case is None:
            target = (
                linked.get(it.link_to) if it.link_to is not None else good[it.link_item or 0].case
            )
            assert target is not None
            step = case_fact(
                target,
                actor=actor.actor,
                action="link_duplicate",
                at=at,
                payload={"channel": it.data.channel.value, "count": target.report_count},
            )
            facts.append(step[0])
            events.append(("link_duplicate", step[1]))
            continue
        steps = [
            (
                actor.actor,
                "report",
                CaseStatus.reported,
                {
                    "channel": it.data.channel.value,
                    "category": case.category_code,
                    "grid": case.grid_code,
                    "public": it.data.channel in PUBLIC_CHANNELS,
                    **({"photos": list(it.data.photos)} if it.data.photos else {}),
                    **({"classified": it.guess.facts()} if it.guess else {}),
                    **({"located": it.located} if it.located else {}),
                },
            )
        ]
        if it.auto:
            steps += [
                (AUTO_ACTOR, "accept", CaseStatus.accepted, {"from": "reported", "to": "accepted"}),
                (
                    AUTO_ACTOR,
                    "file",
                    CaseStatus.filed,
                    {"from": "accepted", "to": "filed", "criteria": "auto"},
                ),
                (
                    DISPATCH_ACTOR,
                    "dispatch",
                    CaseStatus.dispatched,
                    {"from": "filed", "to": "dispatched", **(it.dispatch_facts or {})},
                ),
            ]
            if case.worker_id is not None:
                holds[case.worker_id] = holds.get(case.worker_id, 0) + 1
        for (_, action, _, _), (fact, event) in zip(
            steps, case_steps(case, at=at, steps=steps), strict=True
        ):
            facts.append(fact)
            events.append((action, event))
    if reports:  # an empty list would insert one row of defaults
        insert_rows(session, _REPORTS, reports)
    if holds:
        session.execute(_HOLD, [{"sid": sid, "n": n} for sid, n in holds.items()])
    ledger.append_many(session=session, at=at, facts=facts)
    follow.add(session=session, follows=follow.of_linked(good, actor), at=at)
    for action, body in events:
        queue_event(session.info, f"cases.{action}", body)


def _results(
    session: Session, planned: list[Item | CityOpsError], good: list[Item]
) -> list[IntakeResult | CityOpsError]:
    out: list[IntakeResult | CityOpsError] = []
    for it in planned:
        if not isinstance(it, Item):
            out.append(it)
            continue
        if it.case is not None:
            out.append(
                IntakeResult(it.case, duplicate=False, auto_filed=it.auto, dispatched=it.auto)
            )
            continue
        target = (
            session.get(Case, it.link_to)
            if it.link_to is not None
            else good[it.link_item or 0].case
        )
        assert target is not None
        out.append(IntakeResult(target, duplicate=True, auto_filed=False, dispatched=False))
    return out


def report(
    *, session: Session, rules: CaseRules, data: CaseCreate, actor: Principal, at: datetime
) -> IntakeResult:
    """Take one report in the caller's transaction, or raise why it was refused."""
    (result,) = report_batch(session=session, rules=rules, items=[data], actor=actor, at=at)
    if isinstance(result, CityOpsError):
        raise result
    return result

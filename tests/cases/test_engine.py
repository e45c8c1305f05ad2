"""The case engine end to end on both databases: intake, dispatch, lifecycle, ledger, escalation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.cases import intake, service
from cityops.cases.escalation import run_escalations
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseReport, CaseStatus, Channel, ClosingType
from cityops.cases.schemas import CaseCreate, Point, TransitionCreate
from cityops.clock import FakeClock
from cityops.errors import Conflict, Forbidden, IllegalTransition, ValidationFailed
from cityops.geo.coords import wgs84_to_gcj02
from cityops.ledger import service as ledger
from cityops.ledger.models import LedgerEntry
from cityops.registry.models import DepartmentType, Staff
from tests.citykit import X0, Y0, SmallCity


def garbage(
    channel: Channel = Channel.inspector,
    lat: float = Y0 + 0.002,
    lng: float = X0 + 0.002,
    photos: tuple[str, ...] = ("p://1.jpg",),
    **kw: Any,
) -> CaseCreate:
    return CaseCreate(
        category="06010",
        channel=channel,
        location=Point(lat=lat, lng=lng),
        description="路边有一堆生活垃圾",
        photos=list(photos),
        **kw,
    )


def step(
    db: Session,
    rules: Any,
    city: SmallCity,
    clock: FakeClock,
    case_id: int,
    who: str,
    action: Action,
    **kw: Any,
) -> Case:
    case = service.transition(
        session=db,
        rules=rules,
        case_id=case_id,
        command=TransitionCreate(action=action, **kw),
        actor=city.users[who],
        at=clock.now(),
    )
    db.commit()
    return case


def test_report_is_auto_filed_and_dispatched_to_the_nearest_on_duty_worker(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    result = intake.report(
        session=db, rules=rules, data=garbage(), actor=city.users["inspector"], at=clock.now()
    )
    db.commit()
    case = result.case
    assert result.auto_filed and result.dispatched and not result.duplicate
    assert case.status is CaseStatus.dispatched
    assert (case.district_code, case.street_code, case.grid_code) == (
        "500107",
        "500107001",
        "500107001001001",
    )
    assert case.department_id == city.departments[("500107001", DepartmentType.huanwei)]
    assert case.worker_id == city.workers["near"]
    reasons = json.loads(case.dispatch_reason or "{}")
    assert any("距离" in r for r in reasons["worker"])
    # 4 working hours from Wed 09:00 (08:30–12:00, 14:00–17:30) → 15:00 the same day.
    assert case.deadline_at == datetime(2026, 11, 25, 7, 0, tzinfo=case.deadline_at.tzinfo)
    assert db.get(Staff, city.workers["near"]).open_cases == 1  # type: ignore[union-attr]
    actions = [e.action for e in ledger.history(session=db, subject=f"case:{case.id}")]
    assert actions == ["report", "accept", "file", "dispatch"]


def test_full_lifecycle_is_recorded_in_order_and_the_chain_verifies(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    case_id = intake.report(
        session=db, rules=rules, data=garbage(), actor=city.users["inspector"], at=clock.now()
    ).case.id
    db.commit()
    clock.advance(timedelta(minutes=20))
    step(db, rules, city, clock, case_id, "worker", Action.start)
    clock.advance(timedelta(hours=1))
    step(db, rules, city, clock, case_id, "worker", Action.feedback, photos=["p://after.jpg"])
    step(
        db,
        rules,
        city,
        clock,
        case_id,
        "inspector",
        Action.verify_pass,
        verification_method="inspector",
    )
    step(db, rules, city, clock, case_id, "dispatcher", Action.close)
    case = step(db, rules, city, clock, case_id, "admin", Action.evaluate, satisfaction=5)
    assert case.status is CaseStatus.evaluated
    assert case.closing_type is ClosingType.normal and case.handled_on_time is True
    assert case.handling_seconds == pytest.approx(80 * 60)
    assert json.loads(case.photos or "[]") == ["p://1.jpg", "p://after.jpg"]
    history = ledger.history(session=db, subject=f"case:{case_id}")
    assert [e.action for e in history] == [
        "report",
        "accept",
        "file",
        "dispatch",
        "start",
        "feedback",
        "verify_pass",
        "close",
        "evaluate",
    ]
    assert [json.loads(e.payload)["version"] for e in history] == sorted(
        json.loads(e.payload)["version"] for e in history
    )
    assert ledger.verify(session=db).ok


def test_a_public_report_without_photo_waits_for_acceptance_and_is_filed_by_hand(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    result = intake.report(
        session=db,
        rules=rules,
        data=garbage(Channel.resident, photos=()),
        actor=city.users["resident"],
        at=clock.now(),
    )
    db.commit()
    assert result.case.status is CaseStatus.reported and not result.auto_filed
    cid = result.case.id
    step(db, rules, city, clock, cid, "street", Action.accept)
    step(db, rules, city, clock, cid, "dispatcher", Action.file)
    case = step(db, rules, city, clock, cid, "dispatcher", Action.dispatch)
    assert case.status is CaseStatus.dispatched and case.worker_id == city.workers["near"]


def test_illegal_transition_is_refused_and_changes_nothing(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    case = intake.report(
        session=db, rules=rules, data=garbage(), actor=city.users["inspector"], at=clock.now()
    ).case
    db.commit()
    before_version = case.version
    before_entries = db.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    with pytest.raises(IllegalTransition) as err:
        service.transition(
            session=db,
            rules=rules,
            case_id=case.id,
            command=TransitionCreate(action=Action.close),
            actor=city.users["dispatcher"],
            at=clock.now(),
        )
    db.rollback()
    assert "allowed" in err.value.message and err.value.status == 409
    fresh = db.get(Case, case.id)
    assert (
        fresh is not None
        and fresh.status is CaseStatus.dispatched
        and fresh.version == before_version
    )
    assert db.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == before_entries


def test_repeat_reports_link_to_the_open_case_within_radius_and_window(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    first = intake.report(
        session=db, rules=rules, data=garbage(), actor=city.users["inspector"], at=clock.now()
    )
    db.commit()
    clock.advance(timedelta(hours=2))
    # ~20 m away: the same problem.
    again = intake.report(
        session=db,
        rules=rules,
        data=garbage(Channel.hotline, lat=Y0 + 0.00218),
        actor=city.users["dispatcher"],
        at=clock.now(),
    )
    db.commit()
    assert again.duplicate and again.case.id == first.case.id and again.case.report_count == 2
    # ~200 m away: another problem.
    other = intake.report(
        session=db,
        rules=rules,
        data=garbage(lat=Y0 + 0.0038),
        actor=city.users["inspector"],
        at=clock.now(),
    )
    db.commit()
    assert not other.duplicate and other.case.id != first.case.id
    # After the window, the same spot opens a new case.
    clock.advance(timedelta(hours=25))
    late = intake.report(
        session=db, rules=rules, data=garbage(), actor=city.users["inspector"], at=clock.now()
    )
    db.commit()
    assert not late.duplicate
    reports = db.execute(
        select(func.count()).select_from(CaseReport).where(CaseReport.case_id == first.case.id)
    )
    assert reports.scalar_one() == 2


def test_point_outside_the_city_is_refused_and_nothing_is_written(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    with pytest.raises(ValidationFailed) as err:
        intake.report(
            session=db,
            rules=rules,
            data=garbage(lat=39.9, lng=116.4),
            actor=city.users["inspector"],
            at=clock.now(),
        )
    db.rollback()
    assert err.value.code == "outside_city"
    assert db.execute(select(func.count()).select_from(Case)).scalar_one() == 0


def test_gcj02_location_is_converted_before_lookup(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    lat, lng = Y0 + 0.002, X0 + 0.002
    glng, glat = wgs84_to_gcj02(lng, lat)
    data = CaseCreate(
        category="06010",
        channel=Channel.inspector,
        location=Point(lat=glat, lng=glng, crs="GCJ-02"),
        description="垃圾",
        photos=["p://x.jpg"],
    )
    case = intake.report(
        session=db, rules=rules, data=data, actor=city.users["inspector"], at=clock.now()
    ).case
    assert abs(case.lat - lat) < 1e-5 and abs(case.lng - lng) < 1e-5
    assert case.grid_code == "500107001001001"


def test_stale_version_is_refused(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    case = intake.report(
        session=db, rules=rules, data=garbage(), actor=city.users["inspector"], at=clock.now()
    ).case
    db.commit()
    seen = case.version
    step(db, rules, city, clock, case.id, "worker", Action.start, expected_version=seen)
    with pytest.raises(Conflict) as err:
        service.transition(
            session=db,
            rules=rules,
            case_id=case.id,
            command=TransitionCreate(action=Action.return_, reason="错派", expected_version=seen),
            actor=city.users["dispatcher"],
            at=clock.now(),
        )
    assert err.value.code == "stale_update"


def test_acting_outside_ones_jurisdiction_is_forbidden(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    case = intake.report(
        session=db,
        rules=rules,
        data=garbage(Channel.resident, photos=()),
        actor=city.users["resident"],
        at=clock.now(),
    ).case
    db.commit()
    for who in ("other_dispatcher", "street2", "worker_far", "resident2"):
        with pytest.raises(Forbidden):
            service.transition(
                session=db,
                rules=rules,
                case_id=case.id,
                command=TransitionCreate(action=Action.accept),
                actor=city.users[who],
                at=clock.now(),
            )
        db.rollback()


def test_failed_verification_sends_the_case_back_for_rework(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    cid = intake.report(
        session=db, rules=rules, data=garbage(), actor=city.users["inspector"], at=clock.now()
    ).case.id
    db.commit()
    step(db, rules, city, clock, cid, "worker", Action.feedback)
    assert db.get(Staff, city.workers["near"]).open_cases == 0  # type: ignore[union-attr]
    with pytest.raises(ValidationFailed):
        step(db, rules, city, clock, cid, "inspector", Action.verify_fail)  # needs a reason
    db.rollback()
    case = step(db, rules, city, clock, cid, "inspector", Action.verify_fail, reason="垃圾未清完")
    assert case.status is CaseStatus.in_progress and case.rework_count == 1
    assert db.get(Staff, city.workers["near"]).open_cases == 1  # type: ignore[union-attr]


def test_overdue_cases_escalate_and_the_schedule_survives_a_restart(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock, session_factory: Any
) -> None:
    from tests.citykit import rules_for

    cid = intake.report(
        session=db, rules=rules, data=garbage(), actor=city.users["inspector"], at=clock.now()
    ).case.id
    db.commit()
    assert run_escalations(session=db, rules=rules, now=clock.now()) == []
    # 80 % of 4 working hours from 09:00 is 14:12 (lunch 12:00–14:00 does not count).
    clock.set(clock.now().replace(hour=6, minute=13))  # 14:13 in Chongqing (UTC+8)
    assert run_escalations(session=db, rules=rules, now=clock.now()) == [cid]
    db.commit()
    assert db.get(Case, cid).near_overdue_warned  # type: ignore[union-attr]
    db.commit()  # end the read: SQLite transactions hold the write lock (BEGIN IMMEDIATE)
    # A "restart": new rules, new session; the due time is read from the database.
    with session_factory() as fresh:
        restarted = rules_for(fresh, clock)
        clock.set(clock.now().replace(hour=7, minute=1))  # 15:01, past the 15:00 deadline
        assert run_escalations(session=fresh, rules=restarted, now=clock.now()) == [cid]
        fresh.commit()
        case = fresh.get(Case, cid)
        assert (
            case is not None and case.escalation_level == 2 and case.status is CaseStatus.dispatched
        )
        actions = [e.action for e in ledger.history(session=fresh, subject=f"case:{cid}")]
        assert actions[-2:] == ["warn_near_overdue", "escalate"]
        assert run_escalations(session=fresh, rules=restarted, now=clock.now()) == []


def test_extension_moves_the_deadline_and_shelving_stops_the_clock(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    case = intake.report(
        session=db, rules=rules, data=garbage(), actor=city.users["inspector"], at=clock.now()
    ).case
    db.commit()
    cid, deadline = case.id, case.deadline_at
    step(db, rules, city, clock, cid, "worker", Action.request_extension, extension_hours=2)
    with pytest.raises(Conflict):
        step(db, rules, city, clock, cid, "worker", Action.request_extension, extension_hours=1)
    db.rollback()
    case = step(db, rules, city, clock, cid, "dispatcher", Action.approve_extension)
    assert case.deadline_at == deadline + timedelta(hours=2) and case.extension_count == 1  # type: ignore[operator]
    case = step(db, rules, city, clock, cid, "dispatcher", Action.shelve, reason="需要排水改造工程")
    assert case.status is CaseStatus.shelved and case.next_check_at is None
    clock.advance(timedelta(days=3))
    case = step(db, rules, city, clock, cid, "dispatcher", Action.restore)
    assert case.status is CaseStatus.dispatched and case.deadline_at > clock.now()  # type: ignore[operator]


def test_component_cases_go_to_the_owner_first(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    data = CaseCreate(
        category="01002",
        channel=Channel.inspector,
        location=Point(lat=Y0 + 0.002, lng=X0 + 0.002),
        description="污水井盖破损",
        photos=["p://c.jpg"],
        component_ident="50010701002000001",
    )
    case = intake.report(
        session=db, rules=rules, data=data, actor=city.users["inspector"], at=clock.now()
    ).case
    db.commit()
    assert case.status is CaseStatus.reported  # 01002 is filed by a person
    step(db, rules, city, clock, case.id, "dispatcher", Action.accept)
    step(db, rules, city, clock, case.id, "dispatcher", Action.file)
    case = step(db, rules, city, clock, case.id, "dispatcher", Action.dispatch)
    assert case.department_id == city.departments[("500107", DepartmentType.shizheng)]
    assert any("先属主" in r for r in json.loads(case.dispatch_reason or "{}")["department"])


def test_no_worker_on_duty_leaves_the_case_with_the_department(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    for sid in (city.workers["near"], city.workers["far"]):
        db.get(Staff, sid).on_leave = True  # type: ignore[union-attr]
    db.commit()
    case = intake.report(
        session=db, rules=rules, data=garbage(), actor=city.users["inspector"], at=clock.now()
    ).case
    assert case.status is CaseStatus.dispatched and case.worker_id is None
    assert "无在岗" in json.loads(case.dispatch_reason or "{}")["worker"][0]


def test_a_machine_rule_verifies_sensor_cases(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    cid = intake.report(
        session=db,
        rules=rules,
        data=garbage(Channel.sensor),
        actor=city.users["admin"],
        at=clock.now(),
    ).case.id
    db.commit()
    step(db, rules, city, clock, cid, "worker", Action.feedback)
    case = service.verify_by_machine(
        session=db,
        rules=rules,
        case_id=cid,
        passed=False,
        evidence="readings still above threshold",
        rule="overflow",
        at=clock.now(),
    )
    db.commit()
    assert case.status is CaseStatus.in_progress and case.rework_count == 1
    step(db, rules, city, clock, cid, "worker", Action.feedback)
    case = service.verify_by_machine(
        session=db,
        rules=rules,
        case_id=cid,
        passed=True,
        evidence="3 normal readings in a row",
        rule="overflow",
        at=clock.now(),
    )
    db.commit()
    assert case.status is CaseStatus.verified
    entries = ledger.history(session=db, subject=f"case:{cid}")
    last = entries[-1]
    assert last.actor == "rule:overflow" and json.loads(last.payload)["method"] == "machine"
    assert json.loads(last.payload)["evidence"] == "3 normal readings in a row"


def test_a_spread_out_batch_finds_its_duplicates_report_by_report(
    db: Session, rules: Any, city: SmallCity, clock: FakeClock
) -> None:
    first = intake.report(
        session=db, rules=rules, data=garbage(), actor=city.users["admin"], at=clock.now()
    )
    db.commit()
    clock.advance(timedelta(minutes=10))
    # Over 3 km apart, so the batch is not checked as one box.
    batch = [
        garbage(Channel.video, lat=Y0 + 0.015, lng=X0 + 0.035),
        garbage(Channel.video),
        garbage(Channel.video, lat=Y0 + 0.0158, lng=X0 + 0.004),
    ]
    results = intake.report_batch(
        session=db, rules=rules, items=batch, actor=city.users["admin"], at=clock.now()
    )
    db.commit()
    assert [getattr(r, "duplicate", None) for r in results] == [False, True, False]
    assert results[1].case.id == first.case.id and results[1].case.report_count == 2  # type: ignore[union-attr]
    assert results[0].case.district_code == "500157"  # type: ignore[union-attr]

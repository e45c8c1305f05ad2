"""Retention: reporters' personal data erased once a case has ended long enough ago."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cityops.cases import retention
from cityops.cases.models import Case, CaseKind, CaseReport, CaseStatus, Channel
from cityops.cli import app
from cityops.clock import FakeClock
from cityops.ledger import service as ledger
from cityops.ledger.models import LedgerEntry
from cityops.runtime import build_context
from cityops.settings import Settings
from cityops.store.crypto import DataKeyError
from tests import citykit

NAME, PHONE, ID_NUMBER = "张三", "13812341234", "500107199001011234"
runner = CliRunner()
TEXT = "楼下垃圾没人管，我是张三，电话13812341234，身份证500107199001011234"


def make_case(
    session: Session,
    *,
    name: str | None = NAME,
    phone: str | None = PHONE,
    id_number: str | None = ID_NUMBER,
    status: CaseStatus = CaseStatus.reported,
    ended: datetime | None = None,
    at: datetime = datetime(2025, 1, 6, 1, 0, tzinfo=UTC),
    description: str = TEXT,
) -> Case:
    """A bare case row in citykit's first street (no intake, no ledger)."""
    case = Case(
        kind=CaseKind.event, category_code="06010", major_code="06", title="暴露垃圾",
        description=description, channel=Channel.hotline, status=status, lat=citykit.Y0 + 0.002,
        lng=citykit.X0 + 0.002, district_code="500107", street_code="500107001",
        reporter_name=name, reporter_phone=phone, reporter_id_number=id_number,
        reported_at=at, updated_at=ended or at, closed_at=ended,
        evaluation_comment="满意，电话13812341234" if ended else None,
    )  # fmt: skip
    session.add(case)
    session.flush()
    return case


def _report(session: Session, case: Case, phone: str) -> None:
    session.add(
        CaseReport(
            case_id=case.id, channel=Channel.hotline, reported_at=case.reported_at,
            text=f"我也反映过，电话{phone}", lat=case.lat, lng=case.lng, reporter_name="李四",
            reporter_phone=phone,
        )
    )  # fmt: skip


def test_only_cases_ended_past_the_retention_are_erased_with_one_entry_each(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    now = clock.now()
    with session_factory.begin() as s:
        citykit.build(s)
        old = make_case(s, status=CaseStatus.closed, ended=now - timedelta(days=400))
        _report(s, old, "13900001111")
        void = make_case(s, status=CaseStatus.void, ended=now - timedelta(days=366))
        recent = make_case(s, status=CaseStatus.closed, ended=now - timedelta(days=300))
        running = make_case(s, at=now - timedelta(days=800))  # still open: kept
        ids = old.id, void.id, recent.id, running.id
        quiet = make_case(  # nothing personal: stamped, not changed, no ledger entry
            s, name=None, phone=None, id_number=None, description="井盖缺失",
            status=CaseStatus.closed, ended=now - timedelta(days=500),
        )  # fmt: skip
        quiet.evaluation_comment = None
    quiet_version = quiet.version
    with session_factory.begin() as s:
        dry = retention.purge(session=s, now=now, retention_days=365, dry_run=True)
    assert (dry.cases, dry.reports, dry.checked) == (2, 1, 3)
    with session_factory.begin() as s:
        done = retention.purge(session=s, now=now, retention_days=365)
    assert (done.cases, done.reports, done.checked, done.more) == (2, 1, 3, False)
    with session_factory() as s:
        cases = {c.id: c for c in s.execute(select(Case)).scalars()}
        for cid in ids[:2]:
            c = cases[cid]
            assert (c.reporter_name, c.reporter_phone, c.reporter_id_number) == (None,) * 3
            assert (
                c.description
                == "楼下垃圾没人管，我是张*，电话138****1234，身份证500*************34"
            )
            assert c.personal_data_erased_at is not None
        assert cases[ids[0]].evaluation_comment == "满意，电话138****1234"
        (report,) = s.execute(select(CaseReport)).scalars()
        assert report.reporter_phone is None and report.text == "我也反映过，电话139****1111"
        for cid in ids[2:]:
            assert cases[cid].reporter_phone == PHONE and cases[cid].description == TEXT
        stamped = cases[quiet.id]
        assert stamped.personal_data_erased_at is not None and stamped.version == quiet_version
        entries = list(s.execute(select(LedgerEntry)).scalars())
        assert sorted(e.subject for e in entries) == [f"case:{ids[0]}", f"case:{ids[1]}"]
        for e in entries:
            assert e.action == "erase_personal_data" and e.actor == retention.ACTOR
            assert PHONE not in e.payload and NAME not in e.payload
        assert json.loads(entries[0].payload)["retention_days"] == 365
        assert ledger.verify(session=s).ok
    with session_factory.begin() as s:  # done once: a second pass finds nothing
        assert retention.purge(session=s, now=now, retention_days=365).cases == 0


def test_the_job_takes_batches_until_none_is_due_and_time_brings_the_rest(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    now = clock.now()
    with session_factory.begin() as s:
        citykit.build(s)
        for i in range(5):
            make_case(s, status=CaseStatus.evaluated, ended=now - timedelta(days=30 + i))
    with session_factory.begin() as s:
        first = retention.purge(session=s, now=now, retention_days=31, batch=2)
    assert (first.cases, first.more) == (2, True)  # ended 32..34 days ago; 31 is not past
    with session_factory.begin() as s:
        second = retention.purge(session=s, now=now, retention_days=31, batch=2)
    assert (second.cases, second.more) == (1, False)
    clock.advance(timedelta(days=2))
    with session_factory.begin() as s:
        assert retention.purge(session=s, now=clock.now(), retention_days=31).cases == 2


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_the_cli_counts_then_erases_and_a_wrong_key_stops_start_up(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as s:
        citykit.build(s)
        make_case(s, status=CaseStatus.closed, ended=datetime.now(UTC) - timedelta(days=400))
    args = ["privacy", "purge", "--database-url", _url(engine)]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would erase personal data of 1 cases (0 reports); 1 cases ended" in dry.output
    with session_factory() as s:
        assert s.execute(select(Case.reporter_phone)).scalar_one() == PHONE
    done = runner.invoke(app, args)
    assert done.exit_code == 0 and "erased personal data of 1 cases" in done.output
    with session_factory() as s:
        assert s.execute(select(Case.reporter_phone)).scalar_one() is None
    with session_factory.begin() as s:
        make_case(s)  # a stored value under the suite's key
    wrong = Settings(database_url=_url(engine), data_key=base64.b64encode(b"W" * 32).decode())
    with pytest.raises(DataKeyError) as exc:
        build_context(wrong, migrate=False)
    assert exc.value.code == "data_key_unknown" and "not configured" in exc.value.message


def test_the_background_job_erases_on_its_clock(
    engine: Engine, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with session_factory.begin() as s:
        citykit.build(s)
        make_case(s, status=CaseStatus.void, ended=clock.now() - timedelta(days=10))
    settings = Settings(database_url=_url(engine), personal_data_retention_days=30)
    ctx = build_context(settings, migrate=False, clock=clock)
    job = retention.PersonalDataPurge(ctx)
    assert job.interval == 3600 and job.step().cases == 0
    clock.advance(timedelta(days=21))
    assert job.step().cases == 1
    ctx.bus.close()

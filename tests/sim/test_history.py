"""Historical case import: counts, consistent timelines, the status mix, determinism, the ledger."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from shapely.geometry import box
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from cityops.cases.models import Case, CaseStatus
from cityops.errors import ValidationFailed
from cityops.geo.models import Jurisdiction, Level
from cityops.ledger import service as ledger
from cityops.ledger.models import LedgerEntry
from cityops.registry.models import Department, DepartmentType, Staff
from cityops.sim import history
from cityops.store.base import Base
from cityops.store.engine import make_engine, make_session_factory, transaction
from tests import citykit

UNTIL = date(2026, 11, 25)
CHONGQING = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # midnight of UNTIL in Chongqing
N = 4000
STEPS = (
    "reported_at",
    "accepted_at",
    "filed_at",
    "dispatched_at",
    "started_at",
    "handled_at",
    "verified_at",
    "closed_at",
    "evaluated_at",
)


def _seed(engine: Engine) -> None:
    """The test city, plus a district whose one street has neither communities nor grids."""
    with transaction(make_session_factory(engine)) as session:
        citykit.build(session)
        street = dict(
            citykit._row(
                "500108001", "乡下镇", Level.street, "500108", box(106.6, 29.5, 106.62, 29.52)
            )
        )
        session.execute(insert(Jurisdiction), [street])
        session.add(
            Department(
                code="D-500108001",
                name="乡下镇人民政府",
                type=DepartmentType.street_office,
                jurisdiction_code="500108001",
                level="street",
                district_code="500108",
            )
        )


def _load(engine: Engine, *, cases: int = N, seed: int = 5) -> int:
    return history.load_cases(engine=engine, cases=cases, years=2, until=UNTIL, seed=seed, at=NOW)


def _cases(engine: Engine) -> list[Case]:
    with Session(engine) as session:
        return list(session.execute(select(Case).order_by(Case.id)).scalars())


def _import_entry(engine: Engine) -> dict[str, Any]:
    with Session(engine) as session:
        entry = session.execute(
            select(LedgerEntry).where(LedgerEntry.action == "import_history")
        ).scalar_one()
        assert entry.subject == "import:history"
        return dict(json.loads(entry.payload))


def test_loads_consistent_cases_and_records_the_import(engine: Engine) -> None:
    _seed(engine)
    assert _load(engine) == N
    cases = _cases(engine)
    assert len(cases) == N
    assert [c.id for c in cases] == list(range(cases[0].id, cases[0].id + N))
    assert [c.reported_at for c in cases] == sorted(c.reported_at for c in cases)
    assert cases[0].reported_at >= NOW - timedelta(days=2 * 366)
    for c in cases:
        times = [getattr(c, step) for step in STEPS]
        present = [t for t in times if t is not None]
        assert present == sorted(present), c.id
        assert all(t <= NOW for t in present), c.id
        assert None not in times[: len(present)], c.id  # steps are reached in order, no gaps
        assert c.version == 1 and c.street_code.startswith(c.district_code)
        if c.status in (CaseStatus.closed, CaseStatus.evaluated):
            assert c.handled_at and c.dispatched_at and c.deadline_at and c.handling_seconds
            assert c.handling_seconds == (c.handled_at - c.dispatched_at).total_seconds()
            assert c.handled_on_time == (c.handled_at <= c.deadline_at)
            assert c.closing_type == ("normal" if c.handled_on_time else "overdue")
            assert c.department_id is not None
        if c.status is CaseStatus.evaluated:
            assert c.satisfaction in (1, 2, 3, 4, 5)
        else:
            assert c.satisfaction is None
        if c.status is CaseStatus.void:
            assert c.filed_at is None and c.closed_at is None
        if c.dispatched_at is not None:
            assert c.time_limit and c.deadline_at is not None and c.deadline_at > c.dispatched_at
    with Session(engine) as session:
        assert ledger.verify(session=session).ok
        for staff in session.execute(select(Staff)).scalars():
            busy = sum(
                1
                for c in cases
                if c.worker_id == staff.id
                and c.status in (CaseStatus.dispatched, CaseStatus.in_progress)
            )
            assert staff.open_cases == busy
    payload = _import_entry(engine)
    assert payload["count"] == N and payload["seed"] == 5
    assert (payload["first_id"], payload["last_id"]) == (cases[0].id, cases[-1].id)
    assert len(payload["sha256"]) == 64


def test_mix_is_roughly_as_specified(engine: Engine) -> None:
    _seed(engine)
    _load(engine)
    cases = _cases(engine)
    old = [c for c in cases if c.reported_at < NOW - timedelta(days=60)]
    recent = [c for c in cases if c.reported_at >= NOW - timedelta(days=3)]
    status_old = Counter(c.status for c in old)
    closed_old = status_old[CaseStatus.closed] + status_old[CaseStatus.evaluated]
    assert closed_old / len(old) > 0.94
    assert 0.02 < status_old[CaseStatus.void] / len(old) < 0.04
    assert {c.status for c in recent} & {
        CaseStatus.dispatched,
        CaseStatus.in_progress,
        CaseStatus.handled,
        CaseStatus.verified,
    }
    channels = Counter(c.channel.value for c in cases)
    assert 0.41 < channels["inspector"] / N < 0.49
    assert 0.17 < channels["video"] / N < 0.23
    handled = [c for c in cases if c.handled_on_time is not None]
    assert 0.85 < sum(c.handled_on_time is True for c in handled) / len(handled) < 0.91
    assert 0.03 < sum(c.rework_count > 0 for c in handled) / len(handled) < 0.07
    in_grids = sum(c.grid_code is not None for c in cases) / N
    assert 0.55 < in_grids < 0.65  # the rest falls on the street without grids
    assert all(
        c.grid_code is None and c.community_code is None
        for c in cases
        if c.district_code == "500108"
    )
    rated = [c.satisfaction for c in cases if c.satisfaction is not None]
    assert sum(r >= 4 for r in rated) / len(rated) > 0.8
    top = [code for code, _ in Counter(c.category_code for c in cases).most_common(3)]
    assert set(top) <= {"06010", "06012", "09009", "07001", "06011", "06042"}
    weekday = sum(c.reported_at.astimezone(CHONGQING).weekday() < 5 for c in cases) / N
    assert weekday > 5 / 7 + 0.03
    hours = Counter(c.reported_at.astimezone(CHONGQING).hour for c in cases)
    assert hours[10] > 5 * hours[3]


def test_same_seed_same_cases_on_any_database(engine: Engine, tmp_path: Path) -> None:
    _seed(engine)
    _load(engine, cases=1500, seed=11)
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    Base.metadata.create_all(other)
    _seed(other)
    _load(other, cases=1500, seed=11)

    def rows(eng: Engine) -> list[tuple[Any, ...]]:
        return [
            (c.id, c.category_code, c.status, c.lat, c.reported_at, c.closed_at, c.worker_id)
            for c in _cases(eng)
        ]

    assert rows(engine) == rows(other)
    assert _import_entry(engine)["sha256"] == _import_entry(other)["sha256"]
    other.dispose()


def test_a_large_load_is_generated_in_a_helper_process_with_the_same_result(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(engine)
    monkeypatch.setattr(history, "PARALLEL_FROM", 1)
    monkeypatch.setattr(history, "REBUILD_INDEXES_FROM", 1)  # also drops and rebuilds indexes
    _load(engine, cases=1200, seed=3)
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    Base.metadata.create_all(other)
    _seed(other)
    monkeypatch.setattr(history, "PARALLEL_FROM", 10**9)
    _load(other, cases=1200, seed=3)
    assert _import_entry(engine)["sha256"] == _import_entry(other)["sha256"]
    assert len(_cases(engine)) == 1200
    with Session(engine) as session:
        assert session.execute(select(Case.id).where(Case.street_code == "500107001")).first()
    other.dispose()


def test_bad_requests_are_refused(engine: Engine) -> None:
    with pytest.raises(ValidationFailed) as empty:
        _load(engine, cases=10)
    assert empty.value.code == "no_map"
    _seed(engine)
    for cases, years in ((-1, 1), (10, 0), (10, 99)):
        with pytest.raises(ValidationFailed):
            history.load_cases(engine=engine, cases=cases, years=years, until=UNTIL, seed=1)
    assert _cases(engine) == []

"""The state machine's resident steps (群众确认, 群众重开) and the closing-evidence rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.cases.lifecycle import Action, allowed_actions, next_status
from cityops.cases.models import Case, CaseStatus, Channel, ClosingType
from cityops.cases.verification import (
    evidence_after,
    require_closing_evidence,
    require_reopenable,
)
from cityops.errors import Conflict, IllegalTransition

S = CaseStatus
CLOSED_AT = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", list(CaseStatus))
def test_confirm_records_a_fact_on_a_handled_or_verified_case_only(status: CaseStatus) -> None:
    if status in (S.handled, S.verified):
        assert next_status(status, Action.confirm) is status
        assert Action.confirm in allowed_actions(status)
    else:
        with pytest.raises(IllegalTransition):
            next_status(status, Action.confirm)


@pytest.mark.parametrize("status", list(CaseStatus))
def test_reopen_sends_a_closed_case_back_to_its_department(status: CaseStatus) -> None:
    if status in (S.closed, S.evaluated):
        assert next_status(status, Action.reopen) is S.dispatched
    else:
        with pytest.raises(IllegalTransition):
            next_status(status, Action.reopen)


def test_the_evidence_belongs_to_one_round_of_handling() -> None:
    ev = evidence_after(Action.verify_pass, current=None, photos=False, by_reporter=False)
    assert ev is None  # an inspector's word alone is not evidence
    assert (
        evidence_after(Action.verify_pass, current=None, photos=True, by_reporter=False) == "photo"
    )
    assert evidence_after(Action.verify_pass, current=None, photos=False, by_reporter=True) == (
        "reporter"
    )
    assert evidence_after(Action.confirm, current=None, photos=False, by_reporter=True) == (
        "reporter"
    )
    assert evidence_after(
        Action.verify_pass, current="reporter", photos=False, by_reporter=False
    ) == ("reporter")
    for undo in (Action.verify_fail, Action.reopen):
        assert evidence_after(undo, current="photo", photos=True, by_reporter=True) is None


def _case(channel: Channel, evidence: str | None = None, **kw: object) -> Case:
    return Case(id=1, channel=channel, closing_evidence=evidence, **kw)


def test_only_residents_cases_need_closing_evidence() -> None:
    for channel in (Channel.resident, Channel.hotline):
        with pytest.raises(Conflict) as refused:
            require_closing_evidence(_case(channel))
        assert refused.value.code == "closing_evidence_required"
        require_closing_evidence(_case(channel, "photo"))
    for channel in (Channel.inspector, Channel.video, Channel.sensor):
        require_closing_evidence(_case(channel))


def test_reopening_is_for_a_case_closed_as_fixed_within_the_window() -> None:
    fixed = _case(Channel.resident, closed_at=CLOSED_AT, closing_type=ClosingType.normal)
    require_reopenable(fixed, at=CLOSED_AT + timedelta(days=7), days=7)
    with pytest.raises(Conflict) as late:
        require_reopenable(fixed, at=CLOSED_AT + timedelta(days=7, seconds=1), days=7)
    assert late.value.code == "reopen_window_passed"
    special = _case(Channel.resident, closed_at=CLOSED_AT, closing_type=ClosingType.special)
    with pytest.raises(Conflict) as not_fixed:
        require_reopenable(special, at=CLOSED_AT, days=7)
    assert not_fixed.value.code == "not_closed_as_fixed"

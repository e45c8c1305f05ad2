"""Who sees a reporter's personal data in full, and the masked view everyone else gets. Pure.

| viewer                                   | name, phone, ID number, free text        |
|------------------------------------------|------------------------------------------|
| the reporter (their own case)            | full                                     |
| city_admin (市级管理员)                   | full (may take every step anywhere)      |
| district_dispatcher in scope (受理/派遣)  | full: calls back to confirm, dispatches  |
| street_staff in scope (镇街受理)          | full: accepts and handles at street level|
| field_worker assigned to the case        | full: must phone the reporter on site    |
| field_worker not assigned, inspector     | masked (verify on site; no call needed)  |
| device accounts, other residents         | masked (and most cases are not visible)  |

"Full" is the same relation the policy (``auth/policy.py``) asks for the handling steps (受理,
派遣, 处置反馈), so who may handle a case may reach its reporter, and no one else.
Masked means ``cases.masking``'s forms (``138****1234``, ``张*``, ``500*************1X``), also
inside the description, the title and the free text of the history (reasons, evidence).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases import masking
from cityops.cases.models import Case
from cityops.cases.schemas import CaseRead, HistoryEntry

HANDLING_ROLES = frozenset({Role.district_dispatcher, Role.street_staff})
# History payload fields that hold free text someone typed.
FREE_TEXT = ("reason", "evidence", "comment")


def sees_personal_data(user: Principal, case: Case) -> bool:
    """True if ``user`` gets the reporter's data in full on this case (the table above)."""
    if user.role == Role.resident:
        return case.reporter_user_id is not None and case.reporter_user_id == user.user_id
    if user.is_city_wide:
        return True
    if user.role in HANDLING_ROLES:
        return user.covers(case.street_code or case.district_code)
    if user.role == Role.field_worker:
        return user.staff_id is not None and case.worker_id == user.staff_id
    return False


def mask_phone(value: str) -> str:
    """A phone number as ``138****1234``; a number no pattern knows keeps only its last 4."""
    masked = masking.mask_phones(value)
    if masked != value:
        return masked
    return "*" * max(len(value) - 4, 1) + value[-4:] if len(value) > 4 else "*" * len(value)


def mask_id_number(value: str) -> str:
    """An ID number as ``500*************1X``; anything else keeps its first 3 and last 2."""
    masked = masking.mask_ids(value)
    if masked != value:
        return masked
    return value[:3] + "*" * (len(value) - 5) + value[-2:] if len(value) > 6 else "*" * len(value)


def mask_name(value: str) -> str:
    """``张*``; a one-character name becomes ``*``."""
    return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"


def names_of(case: Case, extra: Iterable[str | None] = ()) -> list[str | None]:
    return [case.reporter_name, *extra]


def masked_read(read: CaseRead, case: Case) -> CaseRead:
    """The case as a viewer without the right sees it."""
    names = names_of(case)
    return read.model_copy(
        update={
            "reporter_name": mask_name(read.reporter_name) if read.reporter_name else None,
            "reporter_phone": mask_phone(read.reporter_phone) if read.reporter_phone else None,
            "reporter_id_number": (
                mask_id_number(read.reporter_id_number) if read.reporter_id_number else None
            ),
            "title": masking.mask_text(read.title, names=names),
            "description": masking.mask_text(read.description, names=names),
            "history": masked_history(read.history, case) if read.history is not None else None,
        }
    )


def _payload(payload: dict[str, Any], names: list[str | None]) -> dict[str, Any]:
    return {
        k: masking.mask_text(v, names=names) if k in FREE_TEXT and isinstance(v, str) else v
        for k, v in payload.items()
    }


def masked_history(entries: list[HistoryEntry], case: Case) -> list[HistoryEntry]:
    """History entries with the free text masked (older entries may predate ledger masking)."""
    names = names_of(case)
    return [e.model_copy(update={"payload": _payload(e.payload, names)}) for e in entries]


def case_view(read: CaseRead, case: Case, user: Principal) -> CaseRead:
    return read if sees_personal_data(user, case) else masked_read(read, case)


def history_view(entries: list[HistoryEntry], case: Case, user: Principal) -> list[HistoryEntry]:
    return entries if sees_personal_data(user, case) else masked_history(entries, case)

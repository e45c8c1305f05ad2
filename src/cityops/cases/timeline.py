"""A case's ledger history as a progress timeline (办理进度): step names in Chinese, actor roles.

Pure: the ledger rows and the actors' roles come in, the API entries go out. A resident is shown
who acted by role only: the actor's name is left out, and so is any payload field that could
name a person (a dispatch's reasons name the worker it chose).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from cityops.auth.models import Role
from cityops.cases.lifecycle import ACTION_NAMES_ZH
from cityops.cases.schemas import HistoryEntry
from cityops.ledger.models import LedgerEntry

USER_PREFIX = "user:"
SYSTEM_ROLE = "system"  # rules, the scheduler, auto-filing, imports
# Steps recorded on a case besides the workflow's actions.
STEP_NAMES_ZH: dict[str, str] = {
    "report": "上报",
    "link_duplicate": "重复上报",
    "erase_personal_data": "个人信息删除",
    "warn_near_overdue": "临期预警",
    "rules.case_evidence": "监测证据",
    "rules.case_reopened": "复发重开",
    "river.event_opened": "河湖事件登记",
    "river.event_evidence": "河湖事件证据",
    **{a.value: name for a, name in ACTION_NAMES_ZH.items()},
}
# What a resident sees of a step's facts: statuses, times, outcomes and stated reasons.
RESIDENT_FIELDS = frozenset(
    {
        "from",
        "to",
        "status",
        "channel",
        "deadline_at",
        "on_time",
        "closing_type",
        "satisfaction",
        "level",
        "hours",
        "method",
        "reason",
        "photos",
    }
)


def usernames(entries: Iterable[LedgerEntry]) -> set[str]:
    """The accounts that acted (system actors have no account)."""
    return {e.actor[len(USER_PREFIX) :] for e in entries if e.actor.startswith(USER_PREFIX)}


def role_of(actor: str, roles: Mapping[str, Role]) -> str:
    if not actor.startswith(USER_PREFIX):
        return SYSTEM_ROLE
    role = roles.get(actor[len(USER_PREFIX) :])
    return role.value if role is not None else "unknown"


def timeline(
    entries: Sequence[LedgerEntry], *, roles: Mapping[str, Role], for_resident: bool
) -> list[HistoryEntry]:
    """The entries, oldest first, as the viewer may see them."""
    out: list[HistoryEntry] = []
    for e in entries:
        payload = json.loads(e.payload)
        if for_resident:
            payload = {k: v for k, v in payload.items() if k in RESIDENT_FIELDS}
        out.append(
            HistoryEntry(
                seq=e.seq,
                at=e.at,
                actor=None if for_resident else e.actor,
                actor_role=role_of(e.actor, roles),
                action=e.action,
                action_name=STEP_NAMES_ZH.get(e.action, e.action),
                payload=payload,
                hash=e.hash,
            )
        )
    return out

"""Who may take which case action, as data.

Each role maps actions to the relation it needs with the case: anywhere (city admin), inside its
jurisdiction (区县/镇街 scope), as the reporter (居民 verifies and evaluates only its own reports),
or as the assigned worker (处置人员 acts only on cases dispatched to him).
"""

from __future__ import annotations

import enum

from cityops.auth.models import Role
from cityops.auth.scope import Principal
from cityops.cases.lifecycle import Action
from cityops.errors import Forbidden


class Need(enum.StrEnum):
    """The relation between the acting person and the case an action requires."""

    anywhere = "anywhere"
    in_scope = "in_scope"
    reporter = "reporter"
    assigned = "assigned"


A = Action

_DISTRICT = (
    A.accept, A.file, A.void, A.dispatch, A.verify_pass, A.verify_fail, A.close, A.close_special,
    A.approve_extension, A.reject_extension, A.shelve, A.restore, A.escalate,
)  # fmt: skip
_STREET = (
    A.accept, A.file, A.dispatch, A.verify_pass, A.verify_fail, A.close, A.escalate,
    A.request_extension, A.return_, A.feedback,
)  # fmt: skip

POLICY: dict[Role, dict[Action, Need]] = {
    Role.city_admin: {a: Need.anywhere for a in Action},
    Role.district_dispatcher: {a: Need.in_scope for a in _DISTRICT},
    Role.street_staff: {a: Need.in_scope for a in _STREET},
    Role.field_worker: {
        A.start: Need.assigned,
        A.feedback: Need.assigned,
        A.request_extension: Need.assigned,
        A.return_: Need.assigned,
    },
    Role.inspector: {
        A.verify_pass: Need.in_scope,
        A.verify_fail: Need.in_scope,
        A.self_handle: Need.in_scope,
    },
    Role.resident: {
        A.evaluate: Need.reporter,
        A.verify_pass: Need.reporter,
        A.verify_fail: Need.reporter,
        A.confirm: Need.reporter,
        A.reopen: Need.reporter,
    },
    Role.device: {},
    Role.insurance_analyst: {},  # 医保分析员 works on insurance data, not on cases
}


class SensingAction(enum.StrEnum):
    """What may be done with the sensing network (一张网)."""

    ingest = "ingest"  # send observations
    read = "read"  # things, datastreams, observations, latest values
    manage = "manage"  # create/change/delete things, sensors, datastreams ...
    command = "command"  # send a command to an actuator


_S = SensingAction
_STAFF_READ = frozenset({_S.read})
SENSING_POLICY: dict[Role, frozenset[SensingAction]] = {
    Role.city_admin: frozenset(SensingAction),  # also machine principals (rules, simulator)
    Role.district_dispatcher: frozenset({_S.read, _S.command}),
    Role.street_staff: _STAFF_READ,
    Role.field_worker: _STAFF_READ,
    Role.inspector: _STAFF_READ,
    Role.resident: frozenset(),
    Role.device: frozenset({_S.ingest}),
    Role.insurance_analyst: frozenset(),
}


def require_sensing(principal: Principal, action: SensingAction) -> None:
    """Raise Forbidden (``role_forbidden``) unless the role may take this sensing action."""
    if action not in SENSING_POLICY.get(principal.role, frozenset()):
        raise Forbidden(
            f"role {principal.role.value} may not {action.value} sensing data",
            code="role_forbidden",
        )


def _satisfied(
    need: Need,
    principal: Principal,
    *,
    case_district: str | None,
    case_street: str | None,
    is_reporter: bool,
    is_assigned_worker: bool,
) -> bool:
    if need == Need.anywhere:
        return True
    if need == Need.reporter:
        return is_reporter
    if need == Need.assigned:
        return is_assigned_worker
    return principal.covers(case_street or case_district)


def may(
    principal: Principal,
    action: Action,
    *,
    case_district: str | None,
    case_street: str | None,
    is_reporter: bool = False,
    is_assigned_worker: bool = False,
) -> bool:
    """True if ``principal`` may take ``action`` on a case with these facts."""
    need = POLICY[principal.role].get(action)
    return need is not None and _satisfied(
        need,
        principal,
        case_district=case_district,
        case_street=case_street,
        is_reporter=is_reporter,
        is_assigned_worker=is_assigned_worker,
    )


def require_action(
    principal: Principal,
    action: Action,
    *,
    case_district: str | None,
    case_street: str | None,
    is_reporter: bool = False,
    is_assigned_worker: bool = False,
) -> None:
    """Raise Forbidden (``role_forbidden``, ``outside_jurisdiction``) unless it is allowed."""
    need = POLICY[principal.role].get(action)
    if need is None:
        raise Forbidden(
            f"role {principal.role.value} may not {action.value}", code="role_forbidden"
        )
    if not _satisfied(
        need,
        principal,
        case_district=case_district,
        case_street=case_street,
        is_reporter=is_reporter,
        is_assigned_worker=is_assigned_worker,
    ):
        why = {
            Need.in_scope: f"the case is outside your jurisdiction ({principal.scope_code or '-'})",
            Need.reporter: "only the resident who reported the case may do this",
            Need.assigned: "only the worker the case is assigned to may do this",
        }[need]
        raise Forbidden(f"cannot {action.value}: {why}", code="outside_jurisdiction")


def permitted_actions(
    principal: Principal,
    *,
    case_district: str | None,
    case_street: str | None,
    is_reporter: bool = False,
    is_assigned_worker: bool = False,
) -> list[Action]:
    """Every action this principal may take on such a case (for the UI's buttons)."""
    return [
        a
        for a in Action
        if may(
            principal,
            a,
            case_district=case_district,
            case_street=case_street,
            is_reporter=is_reporter,
            is_assigned_worker=is_assigned_worker,
        )
    ]


class RulesAction(enum.StrEnum):
    """What a person may do with alarms, plans and rule firings (the rules engine's own data)."""

    read_alarms = "read_alarms"
    acknowledge_alarm = "acknowledge_alarm"  # 告警确认
    read_plans = "read_plans"
    read_firings = "read_firings"


R = RulesAction
RULES_POLICY: dict[Role, frozenset[RulesAction]] = {
    Role.city_admin: frozenset(RulesAction),
    Role.district_dispatcher: frozenset(RulesAction),
    Role.street_staff: frozenset({R.read_alarms, R.acknowledge_alarm, R.read_plans}),
    Role.field_worker: frozenset({R.read_alarms}),
    Role.inspector: frozenset({R.read_alarms}),
    Role.resident: frozenset(),
}


def require_rules_action(principal: Principal, action: RulesAction) -> None:
    """Raise Forbidden (``role_forbidden``) unless the role may do this; scope is checked apart."""
    if action not in RULES_POLICY.get(principal.role, frozenset()):  # devices: none
        raise Forbidden(
            f"role {principal.role.value} may not {action.value}", code="role_forbidden"
        )

"""The role × case-action matrix, checked cell by cell in every situation."""

from __future__ import annotations

import itertools

import pytest

from cityops.auth.models import Role
from cityops.auth.policy import permitted_actions, require_action
from cityops.auth.scope import Principal
from cityops.cases.lifecycle import Action
from cityops.errors import Forbidden

# * anywhere · S in the role's jurisdiction · R own report · W assigned worker · - never
ROLES = [
    Role.city_admin,
    Role.district_dispatcher,
    Role.street_staff,
    Role.field_worker,
    Role.inspector,
    Role.resident,
]
MATRIX = """
accept             * S S - - -
file               * S S - - -
void               * S - - - -
dispatch           * S S - - -
return             * - S W - -
start              * - - W - -
feedback           * - S W - -
verify_pass        * S S - S R
verify_fail        * S S - S R
close              * S S - - -
close_special      * S - - - -
evaluate           * - - - - R
request_extension  * - S W - -
approve_extension  * S - - - -
reject_extension   * S - - - -
shelve             * S - - - -
restore            * S - - - -
escalate           * S S - - -
self_handle        * - - - S -
confirm            * - - - - R
reopen             * - - - - R
"""
TABLE = {
    Action(row.split()[0]): dict(zip(ROLES, row.split()[1:], strict=True))
    for row in MATRIX.strip().splitlines()
}
SCOPES = {
    Role.city_admin: None,
    Role.district_dispatcher: "500105",
    Role.street_staff: "500105001",
    Role.field_worker: "500105001",
    Role.inspector: "500105001",
    Role.resident: None,
}


def principal(role: Role) -> Principal:
    return Principal(
        user_id=1, username=role.value, role=role, scope_code=SCOPES[role], staff_id=None
    )


def test_the_table_names_every_action() -> None:
    assert set(TABLE) == set(Action)


CASES = [
    (action, role, in_scope, reporter, assigned)
    for action in Action
    for role in ROLES
    for in_scope, reporter, assigned in itertools.product([True, False], repeat=3)
]


@pytest.mark.parametrize(("action", "role", "in_scope", "reporter", "assigned"), CASES)
def test_matrix(action: Action, role: Role, in_scope: bool, reporter: bool, assigned: bool) -> None:
    cell = TABLE[action][role]
    district, street = ("500105", "500105001") if in_scope else ("500106", "500106001")
    allowed = {"*": True, "S": in_scope, "R": reporter, "W": assigned, "-": False}[cell]

    def act() -> None:
        require_action(
            principal(role),
            action,
            case_district=district,
            case_street=street,
            is_reporter=reporter,
            is_assigned_worker=assigned,
        )

    if allowed:
        act()
    else:
        with pytest.raises(Forbidden) as err:
            act()
        assert err.value.code == ("role_forbidden" if cell == "-" else "outside_jurisdiction")
    buttons = permitted_actions(
        principal(role),
        case_district=district,
        case_street=street,
        is_reporter=reporter,
        is_assigned_worker=assigned,
    )
    assert (action in buttons) == allowed


def test_street_staff_cannot_act_in_a_neighbouring_street() -> None:
    with pytest.raises(Forbidden) as err:
        require_action(
            principal(Role.street_staff),
            Action.dispatch,
            case_district="500105",
            case_street="500105002",
        )
    assert err.value.code == "outside_jurisdiction"


def test_case_known_only_to_district_level() -> None:
    require_action(
        principal(Role.district_dispatcher), Action.file, case_district="500105", case_street=None
    )
    with pytest.raises(Forbidden):
        require_action(
            principal(Role.street_staff), Action.file, case_district="500105", case_street=None
        )

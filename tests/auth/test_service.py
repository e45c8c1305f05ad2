"""Accounts: the scope each role needs, refused input, duplicates, and password checks."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from cityops.auth.models import Role
from cityops.auth.service import authenticate, create_user
from cityops.errors import CityOpsError, Conflict, NotFound

GOOD = "long-enough-1"


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        (Role.city_admin, None),
        (Role.district_dispatcher, "500105"),
        (Role.street_staff, "500105001"),
        (Role.field_worker, "500105001"),
        (Role.inspector, "500105002"),
        (Role.resident, None),
    ],
)
def test_each_role_is_created_with_its_scope(
    session: Session, role: Role, scope: str | None
) -> None:
    user = create_user(
        session=session,
        username=f"u-{role.value}",
        password=GOOD,
        role=role,
        scope_code=scope,
        display_name="张三",
    )
    assert user.id is not None and user.role == role and user.scope_code == scope
    assert user.password_hash != GOOD and GOOD not in user.password_hash


@pytest.mark.parametrize(
    ("username", "password", "role", "scope", "code"),
    [
        ("ab", GOOD, Role.resident, None, "bad_username"),
        ("has space", GOOD, Role.resident, None, "bad_username"),
        ("张三", GOOD, Role.resident, None, "bad_username"),
        ("-dash", GOOD, Role.resident, None, "bad_username"),
        ("okname", "short7!", Role.resident, None, "weak_password"),
        ("okname", "x" * 129, Role.resident, None, "bad_password"),
        ("okname", GOOD, Role.district_dispatcher, None, "scope_required"),
        ("okname", GOOD, Role.street_staff, "", "scope_required"),
        ("okname", GOOD, Role.district_dispatcher, "500105001", "bad_scope"),
        ("okname", GOOD, Role.street_staff, "500105", "bad_scope"),
        ("okname", GOOD, Role.field_worker, "50010500", "bad_scope"),
        ("okname", GOOD, Role.inspector, "50010500a", "bad_scope"),
        ("okname", GOOD, Role.resident, "500105", "scope_not_allowed"),
        ("okname", GOOD, Role.city_admin, "city", "bad_scope"),
    ],
)
def test_bad_input_is_refused_with_a_code(
    session: Session, username: str, password: str, role: Role, scope: str | None, code: str
) -> None:
    with pytest.raises(CityOpsError) as err:
        create_user(
            session=session,
            username=username,
            password=password,
            role=role,
            scope_code=scope,
            display_name="李四",
        )
    assert err.value.code == code and err.value.status == 422


def test_duplicate_username_is_a_conflict(session: Session) -> None:
    create_user(
        session=session,
        username="wang",
        password=GOOD,
        role=Role.resident,
        scope_code=None,
        display_name="王五",
    )
    with pytest.raises(Conflict) as err:
        create_user(
            session=session,
            username="wang",
            password="another-pass",
            role=Role.resident,
            scope_code=None,
            display_name="王六",
        )
    assert err.value.code == "duplicate_username"


def test_unknown_staff_link_is_refused(session: Session) -> None:
    with pytest.raises(NotFound):
        create_user(
            session=session,
            username="ghost",
            password=GOOD,
            role=Role.field_worker,
            scope_code="500105001",
            display_name="赵七",
            staff_id=999,
        )


def test_authenticate(session: Session) -> None:
    user = create_user(
        session=session,
        username="liu",
        password=GOOD,
        role=Role.inspector,
        scope_code="500105001",
        display_name="刘八",
    )
    session.commit()
    assert authenticate(session=session, username="liu", password=GOOD) is user
    assert authenticate(session=session, username="liu", password=GOOD + "x") is None
    assert authenticate(session=session, username="nobody", password=GOOD) is None
    user.active = False
    session.flush()
    assert authenticate(session=session, username="liu", password=GOOD) is None

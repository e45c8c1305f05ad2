"""Accounts: create them with their role's scope rules, and check a password.

Service functions flush, never commit; the caller owns the transaction.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.models import Role, User
from cityops.auth.security import check_password, hash_password
from cityops.errors import Conflict, NotFound, ValidationFailed
from cityops.registry.models import Staff

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{2,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 128

# Length of the jurisdiction code each role acts over: 区县 6 digits, 镇街 9 digits.
SCOPE_LENGTH: dict[Role, int] = {
    Role.district_dispatcher: 6,
    Role.street_staff: 9,
    Role.field_worker: 9,
    Role.inspector: 9,
}
# Roles that work city-wide without a scope, or over one district with one (区县医保局).
OPTIONAL_SCOPE_LENGTH: dict[Role, int] = {Role.insurance_analyst: 6}

# Checked against when the username is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password")


def validate_scope(role: Role, scope_code: str | None) -> str | None:
    """The scope a ``role`` may hold: none for residents, a code of the right length for staff."""
    scope_code = scope_code or None
    if role == Role.resident:
        if scope_code:
            raise ValidationFailed(
                "a resident account has no jurisdiction scope", code="scope_not_allowed"
            )
        return None
    if scope_code is not None and not scope_code.isdigit():
        raise ValidationFailed(f"scope {scope_code!r} is not a jurisdiction code", code="bad_scope")
    needed = SCOPE_LENGTH.get(role)
    if needed is None:  # city_admin, a city analyst: city-wide; a district analyst: 6 digits
        needed = OPTIONAL_SCOPE_LENGTH.get(role)
        if scope_code is None or needed is None:
            return scope_code
    if not scope_code:
        raise ValidationFailed(
            f"role {role.value} needs a jurisdiction scope", code="scope_required"
        )
    if len(scope_code) != needed:
        raise ValidationFailed(
            f"role {role.value} acts over a {needed}-digit code, got {scope_code!r}",
            code="bad_scope",
        )
    return scope_code


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: Role,
    scope_code: str | None,
    display_name: str,
    staff_id: int | None = None,
    phone: str | None = None,
) -> User:
    """Create an account; refuses a bad username, a short password, a wrong scope or a duplicate."""
    if not USERNAME.match(username):
        raise ValidationFailed(
            "username: 3-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            code="bad_username",
        )
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            f"password needs at least {MIN_PASSWORD} characters", code="weak_password"
        )
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed(
            f"password longer than {MAX_PASSWORD} characters", code="bad_password"
        )
    display_name = display_name.strip()
    if not display_name or len(display_name) > 64:
        raise ValidationFailed("display name: 1-64 characters", code="bad_display_name")
    scope = validate_scope(role, scope_code)
    if staff_id is not None and session.get(Staff, staff_id) is None:
        raise NotFound(f"staff {staff_id} does not exist", code="staff_not_found")
    taken = session.execute(select(User.id).where(User.username == username)).first()
    if taken is not None:
        raise Conflict(f"username {username!r} is taken", code="duplicate_username")
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        scope_code=scope,
        staff_id=staff_id,
        phone=phone,
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """The active account with this username and password, else None."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        check_password(password, _DUMMY_HASH)
        return None
    if not check_password(password, user.password_hash) or not user.active:
        return None
    return user


def roles_of(*, session: Session, usernames: Collection[str]) -> dict[str, Role]:
    """The role of each named account, so a history can say who acted by role alone."""
    if not usernames:
        return {}
    rows = session.execute(
        select(User.username, User.role).where(User.username.in_(sorted(usernames)))
    )
    return {name: Role(role) for name, role in rows}

"""Who is acting and over which part of the map (jurisdiction scope).

Codes are hierarchical (6-digit district, 9-digit street, 12-digit community), so a scope is a
code prefix: street staff with scope ``500157001`` see only that street.
"""

from __future__ import annotations

from dataclasses import dataclass

from cityops.auth.models import Role
from cityops.errors import Forbidden


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    role: Role
    scope_code: str | None
    staff_id: int | None = None

    @property
    def actor(self) -> str:
        """How the ledger names this person (system actors carry their own prefix)."""
        return self.username if self.user_id == 0 else f"user:{self.username}"

    @property
    def is_city_wide(self) -> bool:
        return self.role == Role.city_admin

    def covers(self, code: str | None) -> bool:
        """True if a place with jurisdiction ``code`` lies in this principal's scope."""
        if self.is_city_wide:
            return True
        if self.role == Role.resident or not self.scope_code or not code:
            return False
        return code.startswith(self.scope_code)

    def require_covers(self, code: str | None, what: str = "this place") -> None:
        if not self.covers(code):
            raise Forbidden(
                f"{what} is outside your jurisdiction ({self.scope_code or 'none'})",
                code="outside_jurisdiction",
            )

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            names = ", ".join(r.value for r in roles)
            raise Forbidden(
                f"role {self.role.value} may not do this (needs {names})", code="role_forbidden"
            )


def machine(name: str) -> Principal:
    """An automated actor (a rule, the scheduler, a simulator), named as the ledger shows it."""
    return Principal(user_id=0, username=name, role=Role.city_admin, scope_code=None)

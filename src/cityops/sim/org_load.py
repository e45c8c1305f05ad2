"""Load a synthetic organisation (``sim.org``) into the database with batched Core inserts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from cityops.auth.service import create_user
from cityops.errors import ValidationFailed
from cityops.registry.models import Component, Department, Staff
from cityops.sim.org import ComponentRecord, LoadResult, OrgRecords, UserRecord
from cityops.store.base import Base


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


def _batches(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _ids(session: Session, model: type[Department] | type[Staff]) -> dict[str, int]:
    return {code: id_ for code, id_ in session.execute(select(model.code, model.id))}


def load_org(
    *,
    session: Session,
    org: OrgRecords,
    components: Sequence[ComponentRecord] = (),
    users: Sequence[UserRecord] = (),
    batch: int = 5000,
) -> LoadResult:
    """Bulk-insert (Core, batched) departments, staff, 部件 and accounts; the caller commits."""
    for rows in _batches(org.departments, batch):
        session.execute(_table(Department).insert(), [{**asdict(d), "active": True} for d in rows])
    dept = _ids(session, Department)
    for rows in _batches(org.staff, batch):
        payload = []
        for s in rows:
            row = asdict(s)
            row["department_id"] = dept[row.pop("department_code")]
            row.update(on_leave=False, open_cases=0, active=True, position_at=None)
            payload.append(row)
        session.execute(_table(Staff).insert(), payload)
    for rows in _batches(components, batch):
        payload = [
            {
                "ident": c.ident, "name": c.name, "category_code": c.category_code,
                "owner_department_id": dept.get(c.owner_department_code or ""),
                "maintainer_department_id": dept.get(c.maintainer_department_code or ""),
                "grid_code": c.grid_code, "district_code": c.district_code,
                "street_code": c.street_code, "lat": c.lat, "lng": c.lng, "state": c.state,
                "installed_on": c.installed_on,
            }
            for c in rows
        ]  # fmt: skip
        session.execute(_table(Component).insert(), payload)
    staff = _ids(session, Staff) if users else {}
    for u in users:
        if u.staff_code is not None and u.staff_code not in staff:
            raise ValidationFailed(
                f"demo user {u.username}: no staff {u.staff_code}", code="bad_staff"
            )
        create_user(
            session=session, username=u.username, password=u.password, role=u.role,
            scope_code=u.scope_code, display_name=u.display_name,
            staff_id=staff[u.staff_code] if u.staff_code else None,
        )  # fmt: skip
    session.flush()
    return LoadResult(len(org.departments), len(org.staff), len(components), len(users))

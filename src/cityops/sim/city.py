"""Seed synthetic Chongqing into an empty database: map, organisation, components, demo accounts.

The demo district is 九龙坡区 (500107); its first street hosts the street-level demo accounts.
民主村社区 (谢家湾街道) gets its community cockpit's digital twin; the rivers get their sections and
河长 (``scenarios.river.seeding``) and their water-quality stations (``scenarios.river.stations``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rich.console import Console
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from cityops.api.context import AppContext
from cityops.auth.models import User
from cityops.auth.security import hash_password
from cityops.geo.models import Jurisdiction, Level
from cityops.ledger import service as ledger
from cityops.scenarios.community import service as community
from cityops.scenarios.river import seeding as river
from cityops.scenarios.river import stations as river_stations
from cityops.sim import geography, org, org_load
from cityops.store.engine import transaction

DEMO_DISTRICT = "500107"
DEMO_USERS = ("admin", "dispatcher", "worker", "inspector", "resident")


@dataclass(frozen=True, slots=True)
class SeedSummary:
    jurisdictions: int
    grids: int
    departments: int
    staff: int
    components: int
    users: int

    def __str__(self) -> str:
        return (
            f"{self.jurisdictions} jurisdictions ({self.grids} unit grids), "
            f"{self.departments} departments, {self.staff} staff, {self.components} components, "
            f"{self.users} accounts"
        )


def city_is_empty(ctx: AppContext) -> bool:
    with ctx.sessions() as session:
        return session.execute(select(func.count()).select_from(Jurisdiction)).scalar_one() == 0


def _bbox(j: Jurisdiction) -> tuple[float, float, float, float]:
    return (j.min_lng or 0.0, j.min_lat or 0.0, j.max_lng or 0.0, j.max_lat or 0.0)


def _current(session: Session, level: Level) -> list[Jurisdiction]:
    return list(
        session.execute(
            select(Jurisdiction)
            .where(Jurisdiction.level == level, Jurisdiction.valid_to.is_(None))
            .order_by(Jurisdiction.code)
        ).scalars()
    )


def seed(*, session: Session, password: str, seed: int = 7, per_grid: int = 2) -> SeedSummary:
    """Fill an empty database in the caller's transaction, and put the seeding on the ledger."""
    records = geography.build_chongqing(seed=seed)
    geography.load_into(session=session, records=records)
    districts = [
        org.DistrictInput(j.code, j.name, j.center_lat or 0.0, j.center_lng or 0.0, _bbox(j))
        for j in _current(session, Level.district)
    ]
    streets = [
        org.StreetInput(j.code, j.name, j.center_lat or 0.0, j.center_lng or 0.0, _bbox(j))
        for j in _current(session, Level.street)
    ]
    grids = [
        org.GridInput(j.code, j.center_lat or 0.0, j.center_lng or 0.0, _bbox(j))
        for j in _current(session, Level.grid)
    ]
    records_org = org.build_org(seed=seed, districts=districts, streets=streets)
    components = org.build_components(
        seed=seed,
        grids=grids,
        departments_by_type=records_org.departments_by_type(),
        per_grid=per_grid,
    )
    demo_street = next(s.code for s in streets if s.code.startswith(DEMO_DISTRICT))
    users = org.demo_users(password=password, district_code=DEMO_DISTRICT, street_code=demo_street)
    loaded = org_load.load_org(session=session, org=records_org, components=components, users=users)
    summary = SeedSummary(
        len(records), len(grids), loaded.departments, loaded.staff, loaded.components, loaded.users
    )
    minzhu = geography.minzhu_code(records)
    if minzhu is not None:
        community.ensure_twin(session=session, community_code=minzhu, seed=seed)
    river.ensure_network(session=session, seed=seed)  # 河长 come from the staff loaded above
    river_stations.ensure_stations(session=session, seed=seed)  # 水质自动站 on the sections
    session.flush()
    session.execute(text("ANALYZE"))  # fresh statistics, or PostgreSQL picks poor plans
    ledger.append(
        session=session,
        at=datetime.now(UTC),
        actor="system:seed",
        action="seed_city",
        subject="city:500000",
        payload={"seed": seed, "summary": str(summary)},
    )
    return summary


def reset_demo_passwords(*, session: Session, password: str) -> int:
    """The printed password must work on a database seeded by an earlier run."""
    result = session.execute(
        update(User)
        .where(User.username.in_(DEMO_USERS))
        .values(password_hash=hash_password(password))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def seed_city(
    *, ctx: AppContext, password: str, console: Console | None = None, users_only: bool = False
) -> SeedSummary | int:
    """Seed if empty (or only reset the demo accounts' password)."""
    del console
    with transaction(ctx.sessions) as session:
        if users_only:
            return reset_demo_passwords(session=session, password=password)
        return seed(session=session, password=password)

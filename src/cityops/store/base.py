"""Declarative base and shared column types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """All tables share one metadata with stable constraint names (for Alembic)."""

    metadata = MetaData(naming_convention=NAMING)


def import_all_models() -> None:
    """Import every domain's models so ``Base.metadata`` knows all tables."""
    from cityops.auth import models as _auth
    from cityops.cases import models as _cases
    from cityops.geo import models as _geo
    from cityops.ledger import models as _ledger
    from cityops.registry import models as _registry
    from cityops.rules import models as _rules
    from cityops.scenarios.community import models as _community
    from cityops.scenarios.medicare import credit_models as _credits
    from cityops.scenarios.medicare import discharge_models as _discharges
    from cityops.scenarios.medicare import models as _medicare
    from cityops.scenarios.river import models as _river
    from cityops.sensing import models as _sensing

    del _auth, _cases, _community, _credits, _discharges, _geo, _ledger, _medicare, _registry
    del _river, _rules, _sensing

"""What the case engine decides with: catalogue, plans, calendar, map index, settings, clock.

Loaded once per process (validated data, not code) and passed to the service functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cityops.cases.categories import Catalogue, load_catalogue
from cityops.cases.plans import DispatchPlans, load_plans
from cityops.cases.workcalendar import WorkCalendar, load_local_years
from cityops.clock import Clock
from cityops.geo.index import JurisdictionIndex
from cityops.settings import Settings


@dataclass
class CaseRules:
    catalogue: Catalogue
    plans: DispatchPlans
    calendar: WorkCalendar
    index: JurisdictionIndex
    settings: Settings
    clock: Clock
    # Per-process caches built on first use (e.g. the department directory).
    extras: dict[str, Any] = field(default_factory=dict)


def build_rules(*, settings: Settings, clock: Clock, index: JurisdictionIndex) -> CaseRules:
    """Load the catalogue and plans (bad entries are reported in ``.errors``, never fatal)."""
    catalogue = load_catalogue(settings.categories_path)
    plans = load_plans(catalogue, settings.plans_path)
    return CaseRules(
        catalogue=catalogue,
        plans=plans,
        calendar=WorkCalendar(
            tz=settings.tz,
            local_years=load_local_years(settings.holidays_path)
            if settings.holidays_path
            else None,
        ),
        index=index,
        settings=settings,
        clock=clock,
    )

"""Dispatch plans (派遣预案): which department type, level and escalation a case gets.

Plans are data (``data/plans.yaml``), validated when they load. A bad plan is reported in
``DispatchPlans.errors`` and disabled; it never stops the others. The most specific matching
plan wins: the longest matching jurisdiction prefix, then an exact category over a major over
``"*"``, then the plan listed first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cityops.auth.models import Role
from cityops.cases.categories import HANDLING_LEVELS, Catalogue, Category
from cityops.cases.models import CaseKind
from cityops.errors import NotFound, ValidationFailed
from cityops.registry.models import DepartmentType, StaffRole
from cityops.validated import parse_each

DEFAULT_PATH = Path(__file__).parent / "data" / "plans.yaml"
OWNER_FIRST = "owner_first"  # 先属主、后属地
TERRITORY_FIRST = "territory_first"  # 先属地、后属主
RESPONSIBILITIES = (OWNER_FIRST, TERRITORY_FIRST)
ESCALATION_TARGETS = ("street", "district", "city")
ROLES = frozenset(r.value for r in StaffRole) | frozenset(r.value for r in Role)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """督办 step: at this fraction of the time limit elapsed, raise to ``level`` and notify."""

    at: float
    level: int
    to: str
    notify: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """One validated plan."""

    id: str
    name: str
    categories: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    department_type: DepartmentType | None
    handling_level: str | None
    responsibility: str | None
    escalation: tuple[EscalationStep, ...]
    notify: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the service needs to dispatch a case; ``use_owner``: send to the component owner."""

    plan_id: str
    department_type: DepartmentType
    handling_level: str
    responsibility: str
    escalation: tuple[EscalationStep, ...]
    notify: tuple[str, ...]
    reasons: tuple[str, ...]
    use_owner: bool = False


def _roles(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise ValueError(f"{where} must be a list of roles")
    unknown = [r for r in value if r not in ROLES]
    if unknown:
        raise ValueError(f"{where}: unknown roles {unknown}")
    return tuple(dict.fromkeys(value))


def _escalation(value: Any) -> tuple[EscalationStep, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError("escalation must be a list of steps")
    steps: list[EscalationStep] = []
    for i, raw in enumerate(value):
        if not isinstance(raw, Mapping):
            raise ValueError(f"escalation[{i}] is not a mapping")
        at, level, to = raw.get("at"), raw.get("level"), raw.get("to")
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise ValueError(f"escalation[{i}].at must be a number")
        if not 0 < at <= 10:
            raise ValueError(f"escalation[{i}].at {at} must be a fraction in (0, 10]")
        if isinstance(level, bool) or not isinstance(level, int) or level < 1:
            raise ValueError(f"escalation[{i}].level must be an integer ≥ 1")
        if to not in ESCALATION_TARGETS:
            raise ValueError(f"escalation[{i}].to {to!r} is not street, district or city")
        if steps and (at <= steps[-1].at or level <= steps[-1].level):
            raise ValueError(f"escalation[{i}] must come later and at a higher level than before")
        steps.append(EscalationStep(float(at), level, str(to), _roles(raw.get("notify"), "notify")))
    return tuple(steps)


def _parse_plan(raw: Any, catalogue: Catalogue) -> Plan:
    if not isinstance(raw, Mapping):
        raise ValueError("plan is not a mapping")
    plan_id = raw.get("id")
    if not isinstance(plan_id, str) or not plan_id.strip():
        raise ValueError("id is missing")
    match = raw.get("match")
    if not isinstance(match, Mapping):
        raise ValueError("match is missing")
    cats, places = match.get("categories"), match.get("jurisdictions")
    if not isinstance(cats, list) or not cats or not all(isinstance(c, str) for c in cats):
        raise ValueError("match.categories must be a non-empty list of codes")
    if not isinstance(places, list) or not places or not all(isinstance(p, str) for p in places):
        raise ValueError("match.jurisdictions must be a non-empty list of code prefixes")
    majors = {m[0] for m in catalogue.majors()}
    for c in cats:
        if c != "*" and c not in catalogue and c not in majors:
            raise ValueError(f"match.categories: {c!r} is no category, major or '*'")
    for p in places:
        if p != "*" and not p.isdigit():
            raise ValueError(f"match.jurisdictions: {p!r} is not a code prefix or '*'")
    dept = raw.get("department_type")
    if dept is not None and dept not in DepartmentType.__members__.values():
        raise ValueError(f"unknown department_type {dept!r}")
    level = raw.get("handling_level")
    if level is not None and level not in HANDLING_LEVELS:
        raise ValueError(f"handling_level {level!r} is not street or district")
    responsibility = raw.get("responsibility")
    if responsibility is not None and responsibility not in RESPONSIBILITIES:
        raise ValueError(
            f"responsibility {responsibility!r} is not {' or '.join(RESPONSIBILITIES)}"
        )
    return Plan(
        id=plan_id.strip(),
        name=str(raw.get("name") or plan_id),
        categories=tuple(cats),
        jurisdictions=tuple(places),
        department_type=DepartmentType(dept) if dept is not None else None,
        handling_level=level,
        responsibility=responsibility,
        escalation=_escalation(raw.get("escalation")),
        notify=_roles(raw.get("notify"), "notify"),
    )


BUILTIN_DEFAULT = Plan(
    id="builtin-default",
    name="内置默认预案 built-in default",
    categories=("*",),
    jurisdictions=("*",),
    department_type=None,
    handling_level=None,
    responsibility=None,
    escalation=(
        EscalationStep(0.8, 1, "street", ("worker",)),
        EscalationStep(1.0, 2, "district", ("dispatcher",)),
        EscalationStep(1.5, 3, "city", ("leader",)),
    ),
    notify=("worker",),
)


def _category_rank(plan: Plan, category: Category) -> int:
    """2 = exact code, 1 = major, 0 = '*', -1 = no match."""
    if category.code in plan.categories:
        return 2
    if category.major_code in plan.categories:
        return 1
    return 0 if "*" in plan.categories else -1


def _place_rank(plan: Plan, district_code: str, street_code: str) -> int:
    """Length of the longest matching prefix, 0 for '*', -1 for no match."""
    best = -1
    for p in plan.jurisdictions:
        if p == "*":
            best = max(best, 0)
        elif street_code.startswith(p) or district_code.startswith(p):
            best = max(best, len(p))
    return best


class DispatchPlans:
    """The enabled plans, with the load errors of the disabled ones."""

    def __init__(self, plans: list[Plan], errors: list[str]) -> None:
        self.plans = list(plans)
        self.errors = list(errors)
        # Plans never change once loaded (an edit loads a new DispatchPlans), so each
        # (category, place, owner known) resolves once; intake asks thousands of times a second.
        self._resolved: dict[tuple[str, int, str, str, bool], Resolution] = {}

    def get(self, plan_id: str) -> Plan:
        """One enabled plan by id."""
        for plan in self.plans:
            if plan.id == plan_id:
                return plan
        raise NotFound(f"dispatch plan {plan_id!r} is not enabled", code="unknown_plan")

    def match(self, *, category: Category, district_code: str, street_code: str) -> Plan:
        """The most specific plan for a category at a place."""
        best: tuple[int, int, int] | None = None
        chosen = BUILTIN_DEFAULT
        for order, plan in enumerate(self.plans):
            cat = _category_rank(plan, category)
            place = _place_rank(plan, district_code, street_code)
            if cat < 0 or place < 0:
                continue
            rank = (place, cat, -order)
            if best is None or rank > best:
                best, chosen = rank, plan
        return chosen

    def resolve(
        self, *, category: Category, district_code: str, street_code: str, has_owner: bool
    ) -> Resolution:
        """Department type, level, responsibility rule and escalation for one case."""
        key = (category.code, id(category), district_code, street_code, has_owner)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(
                category=category,
                district_code=district_code,
                street_code=street_code,
                has_owner=has_owner,
            )
        return found

    def _resolve(
        self, *, category: Category, district_code: str, street_code: str, has_owner: bool
    ) -> Resolution:
        plan = self.match(category=category, district_code=district_code, street_code=street_code)
        default_rule = OWNER_FIRST if category.kind is CaseKind.component else TERRITORY_FIRST
        responsibility = plan.responsibility or default_rule
        dept = plan.department_type or category.department_type
        level = plan.handling_level or category.handling_level
        place = street_code if level == "street" else district_code
        reasons = [f"预案 plan {plan.id} ({plan.name}) for {category.code} {category.name}"]
        if plan.department_type is not None:
            reasons.append(f"预案指定部门类型 plan sets department type {dept.value}")
        if plan.handling_level is not None:
            reasons.append(f"预案指定处置层级 plan sets handling level {level}")
        use_owner = has_owner and responsibility == OWNER_FIRST
        if use_owner:
            reasons.append(
                "先属主后属地: 由部件权属单位处置 owner first: the component's owner handles it"
            )
        elif responsibility == OWNER_FIRST:
            reasons.append(
                f"权属单位不明, 按属地: {dept.value} ({level} {place}) "
                "owner unknown: territory department"
            )
        else:
            reasons.append(f"先属地后属主: {dept.value} ({level} {place}) territory first")
        reasons.append("无对应部门时属地兜底 (街道办) street office if no such department")
        return Resolution(
            plan_id=plan.id,
            department_type=dept,
            handling_level=level,
            responsibility=responsibility,
            escalation=plan.escalation,
            notify=plan.notify,
            reasons=tuple(reasons),
            use_owner=use_owner,
        )


def parse_plans(data: Any, catalogue: Catalogue) -> DispatchPlans:
    """Validate plans; each bad plan is disabled and reported, never fatal."""
    if not isinstance(data, Mapping) or not isinstance(data.get("plans"), list):
        raise ValidationFailed("the plans file needs a 'plans' list", code="bad_plans")
    plans, errors = parse_each(
        data["plans"],
        section="plans",
        key_field="id",
        parse=lambda raw: _parse_plan(raw, catalogue),
        key=lambda p: p.id,
        dropped="disabled",
        key_name="plan id",
    )
    if not any("*" in p.categories and "*" in p.jurisdictions for p in plans):
        errors.append("no default plan (categories ['*'], jurisdictions ['*']); built-in used")
        plans.append(BUILTIN_DEFAULT)
    return DispatchPlans(plans, errors)


def load_plans(catalogue: Catalogue, path: Path | None = None) -> DispatchPlans:
    """Load the packaged plans, or the admin's file at ``path``."""
    target = path or DEFAULT_PATH
    try:
        data = yaml.safe_load(target.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotFound(f"cannot read plans {target}: {exc}", code="plans_missing") from None
    except yaml.YAMLError as exc:
        raise ValidationFailed(
            f"plans {target} are not valid YAML: {exc}", code="bad_plans"
        ) from None
    return parse_plans(data, catalogue)

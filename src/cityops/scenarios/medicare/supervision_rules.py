"""基金监管在线 rule base (规则库) as validated data: type, scope, window, threshold, severity and
legal basis per rule. A bad rule is reported with its id and the reason and disabled, never fatal:
the rule base is hand-edited and one typo must not stop the other rules (reference §3.2)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cityops.validated import parse_each

SHIPPED = Path(__file__).parent / "data" / "supervision_rules.yaml"


class RuleType(enum.StrEnum):
    sex_restriction = "sex_restriction"  # 限性别
    age_restriction = "age_restriction"  # 限年龄
    insutype_restriction = "insutype_restriction"  # 限险种
    visit_type_restriction = "visit_type_restriction"  # 限就医方式
    level_restriction = "level_restriction"  # 限医疗机构等级
    duplicate_charge = "duplicate_charge"  # 重复收费
    trace_code_reuse = "trace_code_reuse"  # 追溯码重复结算
    readmission = "readmission"  # 分解住院 (N 日内再入院)
    frequent_purchase = "frequent_purchase"  # 频繁购药
    over_quantity = "over_quantity"  # 超量开药
    swipe_refund = "swipe_refund"  # 刷卡后短时退费
    foot_traffic = "foot_traffic"  # 结算笔数超合理客流


class Severity(enum.StrEnum):
    suspect = "suspect"  # 可疑
    definite = "definite"  # 明确


# What each type needs besides the common fields; checked when a rule is loaded.
_NEEDS: dict[RuleType, tuple[str, ...]] = {
    RuleType.sex_restriction: ("items", "sex"),
    RuleType.age_restriction: ("items",),
    RuleType.insutype_restriction: ("items", "insutypes"),
    RuleType.visit_type_restriction: ("items", "med_types"),
    RuleType.level_restriction: ("items", "min_level"),
    RuleType.duplicate_charge: ("pairs",),
    RuleType.trace_code_reuse: ("threshold",),
    RuleType.readmission: ("window_days",),
    RuleType.frequent_purchase: ("threshold",),
    RuleType.over_quantity: ("threshold",),
    RuleType.swipe_refund: ("threshold", "window_minutes"),
    RuleType.foot_traffic: ("threshold",),
}


class Rule(BaseModel):
    """One rule: what it checks (type + scope), over which window, from which threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=40)
    type: RuleType
    name: str = Field(min_length=1, max_length=200)
    severity: Severity
    legal_basis: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    window_days: int | None = Field(default=None, ge=1, le=366)
    window_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    threshold: float | None = Field(default=None, ge=0)
    items: tuple[str, ...] = ()
    sex: int | None = Field(default=None, ge=1, le=2)
    min_age: int | None = Field(default=None, ge=0, le=150)
    max_age: int | None = Field(default=None, ge=0, le=150)
    insutypes: tuple[str, ...] = ()
    med_types: tuple[str, ...] = ()
    min_level: int | None = Field(default=None, ge=1, le=3)
    pairs: tuple[tuple[str, str], ...] = ()

    @model_validator(mode="after")
    def _complete(self) -> Rule:
        missing = [f for f in _NEEDS[self.type] if getattr(self, f) in (None, ())]
        if missing:
            raise ValueError(f"type {self.type} needs {', '.join(missing)}")
        if self.type == RuleType.age_restriction and self.min_age is None and self.max_age is None:
            raise ValueError("type age_restriction needs min_age or max_age")
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("min_age is above max_age")
        return self


@dataclass(frozen=True)
class RuleSet:
    """The enabled rules and one message per rule that was disabled (id and reason)."""

    version: int
    rules: tuple[Rule, ...]
    errors: tuple[str, ...]

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def _parse(entry: object) -> Rule:
    if not isinstance(entry, dict):
        raise ValueError("a rule must be a mapping")
    try:
        return Rule.model_validate(entry)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "rule"
        raise ValueError(f"{where}: {first['msg']}") from None


def parse_rules(doc: Any) -> RuleSet:
    """Rules from a parsed YAML document; bad rules are disabled with their reason."""
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        return RuleSet(0, (), ("the document needs a `rules` list; no rule loaded",))
    good, errors = parse_each(
        doc["rules"], section="rules", key_field="id", parse=_parse, key=lambda r: r.id,
        dropped="disabled",
    )  # fmt: skip
    version = doc.get("version", 0)
    rules = tuple(r for r in good if r.enabled)
    return RuleSet(version if isinstance(version, int) else 0, rules, tuple(errors))


def load_rules(path: Path = SHIPPED) -> RuleSet:
    """Read a rule file; an unreadable file is one error and no rules, not an exception."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return RuleSet(0, (), (f"{path}: {exc}; no rule loaded",))
    return parse_rules(doc)

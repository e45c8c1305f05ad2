"""The category catalogue (案件类别目录): what counts as a case, who handles it, how fast.

The catalogue is data (``data/categories.yaml``) that admins edit and version. Loading never
fails on one bad entry: it is reported in ``Catalogue.errors`` and left out, so a typo in one
category cannot take the case system down.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from cityops.cases.models import CaseKind
from cityops.errors import NotFound, ValidationFailed
from cityops.registry.models import DepartmentType
from cityops.validated import parse_each

DEFAULT_PATH = Path(__file__).parent / "data" / "categories.yaml"
HANDLING_LEVELS = ("street", "district")
_LIMIT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hd])\s*$")
_MAX_AMOUNT = {"hour": 24 * 365.0, "day": 365.0}
_MAX_DUPLICATE = {"duplicate_radius_m": 5000.0, "duplicate_window_hours": 24 * 90.0}


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """处置时限: an amount of 工作时 (``hour``) or 工作日 (``day``)."""

    amount: float
    unit: Literal["hour", "day"]

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        """Parse ``"4h"`` (4 working hours) or ``"5d"`` (5 working days)."""
        match = _LIMIT_RE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValidationFailed(
                f"time limit {text!r} is not like '4h' (工作时) or '5d' (工作日)",
                code="bad_time_limit",
            )
        amount = float(match.group(1))
        unit: Literal["hour", "day"] = "hour" if match.group(2) == "h" else "day"
        if not 0 < amount <= _MAX_AMOUNT[unit] or not math.isfinite(amount):
            raise ValidationFailed(
                f"time limit {text!r} must be positive and at most {_MAX_AMOUNT[unit]:g}{unit[0]}",
                code="bad_time_limit",
            )
        return cls(amount, unit)

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit[0]}"


@dataclass(frozen=True, slots=True)
class Category:
    """One minor category (小类) with its filing rule, owner department type and time limit."""

    code: str
    name: str
    kind: CaseKind
    major_code: str
    major_name: str
    department_type: DepartmentType
    handling_level: str
    time_limit: TimeLimit
    filing_criteria: str
    closing_criteria: str
    keywords: tuple[str, ...]
    auto_file: bool
    # 重复案件 radius (m) and window (h) for this category; None: the global settings.
    duplicate_radius_m: float | None = None
    duplicate_window_hours: float | None = None
    # Filed by staff or a system only (e.g. a fund-supervision clue): never offered to residents,
    # to Open311 clients or to the text classifier.
    internal: bool = False


class Catalogue:
    """A validated, versioned catalogue; bad entries are listed in ``errors``, not loaded."""

    def __init__(
        self,
        *,
        version: int,
        majors: list[tuple[str, str, CaseKind]],
        categories: list[Category],
        errors: list[str],
    ) -> None:
        self.version = version
        self._majors = list(majors)
        self._by_code = {c.code: c for c in categories}
        self.errors = list(errors)

    def get(self, code: str) -> Category:
        """The category with this 5-digit code, or NotFound(code="unknown_category")."""
        try:
            return self._by_code[code]
        except (KeyError, TypeError):
            raise NotFound(
                f"category {code!r} is not in catalogue version {self.version}",
                code="unknown_category",
            ) from None

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def all(self) -> list[Category]:
        """All loaded categories, in code order."""
        return [self._by_code[k] for k in sorted(self._by_code)]

    def public(self) -> list[Category]:
        """The categories residents report under (not ``internal``), in code order."""
        return [c for c in self.all() if not c.internal]

    def majors(self) -> list[tuple[str, str, CaseKind]]:
        """Major classes (大类) as (code, name, kind), in code order."""
        return sorted(self._majors)

    def major(self, code: str) -> tuple[str, str, CaseKind] | None:
        """One major class by its 2-digit code, or None."""
        return next((m for m in self._majors if m[0] == code), None)


def _text(entry: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = entry.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    value = value.strip()
    if required and not value:
        raise ValueError(f"{key} is missing")
    return value


def _parse_major(entry: Any) -> tuple[str, str, CaseKind]:
    if not isinstance(entry, Mapping):
        raise ValueError("entry is not a mapping")
    code = str(entry.get("code", "")).strip()
    if not re.fullmatch(r"\d{2}", code):
        raise ValueError(f"major code {code!r} is not 2 digits")
    name = _text(entry, "name")
    try:
        kind = CaseKind(str(entry.get("kind")))
    except ValueError:
        raise ValueError(f"kind {entry.get('kind')!r} is not component or event") from None
    return code, name, kind


def _parse_category(entry: Any, majors: Mapping[str, tuple[str, str, CaseKind]]) -> Category:
    if not isinstance(entry, Mapping):
        raise ValueError("entry is not a mapping")
    code = str(entry.get("code", "")).strip()
    if not re.fullmatch(r"\d{5}", code):
        raise ValueError(f"code {code!r} is not 5 digits (2-digit major + 3-digit minor)")
    major = majors.get(code[:2])
    if major is None:
        raise ValueError(f"code {code} is not under any known major class ({code[:2]})")
    declared_major = entry.get("major")
    if declared_major is not None and str(declared_major) != code[:2]:
        raise ValueError(f"code {code} is not under its declared major {declared_major}")
    raw_type = entry.get("department_type")
    try:
        department_type = DepartmentType(str(raw_type))
    except ValueError:
        raise ValueError(f"unknown department_type {raw_type!r}") from None
    level = entry.get("handling_level")
    if level not in HANDLING_LEVELS:
        raise ValueError(f"handling_level {level!r} is not street or district")
    try:
        limit = TimeLimit.parse(str(entry.get("time_limit", "")))
    except ValidationFailed as exc:
        raise ValueError(exc.message) from None
    keywords = entry.get("keywords") or []
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k for k in keywords):
        raise ValueError("keywords must be a list of words")
    auto_file = entry.get("auto_file", False)
    internal = entry.get("internal", False)
    for key, flag in (("auto_file", auto_file), ("internal", internal)):
        if not isinstance(flag, bool):
            raise ValueError(f"{key} must be true or false")
    return Category(
        **_duplicate_limits(entry),
        code=code,
        name=_text(entry, "name"),
        kind=major[2],
        major_code=major[0],
        major_name=major[1],
        department_type=department_type,
        handling_level=str(level),
        time_limit=limit,
        filing_criteria=_text(entry, "filing_criteria", required=False),
        closing_criteria=_text(entry, "closing_criteria", required=False),
        keywords=tuple(dict.fromkeys(k.strip() for k in keywords)),
        auto_file=auto_file,
        internal=internal,
    )


def _duplicate_limits(entry: Mapping[str, Any]) -> dict[str, float]:
    """The category's own duplicate radius and window, where it sets them."""
    out: dict[str, float] = {}
    for key, top in _MAX_DUPLICATE.items():
        value = entry.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value <= top
            or not math.isfinite(value)
        ):
            raise ValueError(f"{key} must be a number above 0 and at most {top:g}")
        out[key] = float(value)
    return out


def parse_catalogue(data: Any) -> Catalogue:
    """Validate a loaded YAML document; the document's shape must be right, entries may be bad."""
    if not isinstance(data, Mapping):
        raise ValidationFailed("the catalogue is not a mapping", code="bad_catalogue")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValidationFailed(
            f"catalogue version {version!r} must be a positive integer", code="bad_catalogue"
        )
    raw_majors, raw_categories = data.get("majors"), data.get("categories")
    if not isinstance(raw_majors, list) or not isinstance(raw_categories, list):
        raise ValidationFailed(
            "the catalogue needs 'majors' and 'categories' lists", code="bad_catalogue"
        )
    errors: list[str] = []
    majors: dict[str, tuple[str, str, CaseKind]] = {}
    for i, entry in enumerate(raw_majors):
        try:
            major = _parse_major(entry)
        except ValueError as exc:
            errors.append(f"majors[{i}]: {exc}; left out")
            continue
        if major[0] in majors:
            errors.append(f"majors[{i}]: duplicate major code {major[0]}; left out")
            continue
        majors[major[0]] = major
    parsed, refused = parse_each(
        raw_categories,
        section="categories",
        key_field="code",
        parse=lambda entry: _parse_category(entry, majors),
        key=lambda c: c.code,
        dropped="left out",
    )
    errors += refused
    categories = {c.code: c for c in parsed}
    return Catalogue(
        version=version,
        majors=list(majors.values()),
        categories=list(categories.values()),
        errors=errors,
    )


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load the packaged catalogue, or the admin's file at ``path``."""
    target = path or DEFAULT_PATH
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise NotFound(f"cannot read catalogue {target}: {exc}", code="catalogue_missing") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(
            f"catalogue {target} is not valid YAML: {exc}", code="bad_catalogue"
        ) from None
    return parse_catalogue(data)

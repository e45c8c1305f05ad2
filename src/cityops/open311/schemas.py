"""What the GeoReport v2 door reads: a POSTed request's fields and the list query.

The spec posts ``application/x-www-form-urlencoded`` (attributes as ``attribute[CODE]=v`` and
``attribute[CODE][]=v`` for several values); a JSON object with the same keys (attributes as
``"attribute": {"CODE": v}``) is taken too. ``parse_fields`` turns either into one flat mapping
and ``RequestCreate`` checks it. "Optional" fields that are empty count as absent, as the spec says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cityops.errors import ValidationFailed

_ATTR = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
MAX_DESCRIPTION = 4000  # the spec's limit on description


class RequestCreate(BaseModel):
    """A POST requests body (jurisdiction_id, api_key and one location are checked by the door)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    # The spec requires it; we classify the description when it is absent (智能分类).
    service_code: str | None = Field(default=None, min_length=1, max_length=16)
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    address_string: str | None = Field(default=None, max_length=200)
    address_id: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=200)
    device_id: str | None = Field(default=None, max_length=64)
    account_id: str | None = Field(default=None, max_length=64)
    first_name: str | None = Field(default=None, max_length=50)
    last_name: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=20)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    media_url: str | None = Field(default=None, max_length=500)
    attribute: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("description", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @property
    def reporter_name(self) -> str | None:
        name = f"{self.last_name or ''}{self.first_name or ''}".strip()  # 姓 then 名
        return name or None


def _attribute_pairs(
    items: Iterable[tuple[str, Any]],
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    fields: dict[str, Any] = {}
    attrs: dict[str, list[str]] = {}
    for key, value in items:
        match = _ATTR.match(key)
        if match:
            attrs.setdefault(match.group(1), []).append(str(value))
        elif key in fields:
            raise ValidationFailed(f"{key} is given more than once", code="bad_request")
        else:
            fields[key] = value
    return fields, attrs


def parse_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Form fields (or query parameters) as one mapping, attributes gathered under ``attribute``."""
    fields, attrs = _attribute_pairs(pairs)
    if attrs:
        fields["attribute"] = attrs
    return fields


def parse_json(body: Any) -> dict[str, Any]:
    """A JSON object body; ``attribute`` may be an object of strings or lists of strings."""
    if not isinstance(body, Mapping):
        raise ValidationFailed("the JSON body must be an object", code="bad_request")
    raw = body.get("attribute") or {}
    if not isinstance(raw, Mapping):
        raise ValidationFailed("attribute must be an object", code="bad_request")
    pairs = [(k, v) for k, v in body.items() if k != "attribute"]
    fields, attrs = _attribute_pairs(pairs)
    for code, value in raw.items():
        values = value if isinstance(value, list) else [value]
        attrs.setdefault(str(code), []).extend(str(v) for v in values)
    if attrs:
        fields["attribute"] = attrs
    return fields


def request_create(fields: Mapping[str, Any]) -> RequestCreate:
    """Check the fields, or raise ValidationFailed naming the first bad one."""
    try:
        return RequestCreate.model_validate(dict(fields))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ValidationFailed(
            f"{where}: {first.get('msg', 'invalid')}", code="bad_request"
        ) from None


class ListQuery(BaseModel):
    """GET requests: ids (which override the rest) or codes, a period and open/closed."""

    ids: list[str] = Field(default_factory=list)
    service_codes: list[str] = Field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] = Field(default_factory=list)

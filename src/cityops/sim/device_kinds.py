"""Simulated device kinds as validated data (``data/device_kinds.yaml``).

A bad kind or property is reported and left out; the rest load. See the YAML for the meaning of
each field.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cityops.validated import parse_each

KINDS_FILE = Path(__file__).parent / "data" / "device_kinds.yaml"
BASE_TICK = 60  # seconds; every kind's interval is a multiple of it


class PropertySpec(BaseModel):
    """One observed property of a device kind and how its readings behave."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    ucum: str
    symbol: str
    baseline: float
    noise: float = Field(ge=0)
    phi: float = Field(ge=0, lt=1)
    white: float = Field(ge=0)
    diurnal: float = 0.0
    peak_hour: float = Field(default=0.0, ge=0, lt=24)
    min: float
    max: float
    integral_of: str | None = None

    @model_validator(mode="after")
    def _range(self) -> PropertySpec:
        if not self.min <= self.baseline <= self.max:
            raise ValueError(f"baseline {self.baseline} outside [{self.min}, {self.max}]")
        return self

    @property
    def definition(self) -> str:
        return f"urn:cityops:property:{self.key}"

    def unit(self) -> dict[str, str]:
        """The SensorThings unitOfMeasurement."""
        return {
            "name": self.name,
            "symbol": self.symbol,
            "definition": f"https://ucum.org/ucum#{self.ucum}",
        }


class DeviceKind(BaseModel):
    """A kind of device: its properties, sampling interval and the 部件 it sits on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    categories: tuple[str, ...] = Field(min_length=1)
    interval: int = Field(gt=0)
    weight: float = Field(ge=0)
    actuator: bool = False
    # What plans call this actuator (``target: fan``); the sensing directory reads it off the Thing.
    role: str | None = None
    properties: tuple[PropertySpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> DeviceKind:
        if self.interval % BASE_TICK:
            raise ValueError(f"interval {self.interval} is not a multiple of {BASE_TICK} s")
        keys = [p.key for p in self.properties]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate property keys")
        for p in self.properties:
            if p.integral_of is not None and p.integral_of not in keys:
                raise ValueError(f"{p.key}: integral_of {p.integral_of} is not a property")
        for code in self.categories:
            if len(code) != 5 or not code.isdigit():
                raise ValueError(f"category {code!r} is not a 5-digit code")
        return self

    def prop(self, key: str) -> PropertySpec:
        return next(p for p in self.properties if p.key == key)


@dataclass(frozen=True, slots=True)
class Catalogue:
    kinds: dict[str, DeviceKind]
    errors: list[str]


def _parse(entry: object) -> DeviceKind:
    if not isinstance(entry, dict):
        raise ValueError("not a mapping")
    try:
        return DeviceKind.model_validate(entry)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{where}: {first['msg']}" if where else first["msg"]) from None


def parse_kinds(raw: Any) -> Catalogue:
    """Kinds from parsed YAML; bad entries are reported in ``errors`` and left out."""
    entries = raw.get("kinds") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        return Catalogue({}, ["device kinds: no 'kinds' list"])
    good, errors = parse_each(
        entries,
        section="kinds",
        key_field="key",
        parse=_parse,
        key=lambda k: k.key,
        dropped="left out",
    )
    return Catalogue({k.key: k for k in good}, errors)


@cache
def load_kinds(path: Path = KINDS_FILE) -> Catalogue:
    """The kinds shipped with cityops (or another file); parsed once."""
    return parse_kinds(yaml.safe_load(path.read_text(encoding="utf-8")))

"""12345 hotline exports: the column mapping (validated data), reading the sheet, parsing rows.

Pure apart from reading the file: a row becomes a :class:`HotlineRow` ready for intake, or the
list of :class:`RowError` saying which column is wrong and why. Where the row is located
(coordinates, or names in the address) is decided later, against the map (``hotline.py``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cityops.errors import ValidationFailed

CODE = re.compile(r"^\d{5}$")
DEFAULT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"]


class Columns(BaseModel):
    """Which spreadsheet column (its header text) holds each field."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, description="工单编号: the idempotency key")
    received_at: str = Field(min_length=1, description="来电时间")
    description: str = Field(min_length=1, description="诉求内容")
    address: str | None = None
    lat: str | None = None
    lng: str | None = None
    category: str | None = None
    caller_name: str | None = None
    caller_phone: str | None = None
    caller_id_number: str | None = Field(default=None, description="身份证号, stored encrypted")

    @model_validator(mode="after")
    def _somewhere(self) -> Columns:
        if (self.lat is None) != (self.lng is None):
            raise ValueError("map both lat and lng, or neither")
        if self.address is None and self.lat is None:
            raise ValueError("map address, or lat and lng: a report needs a place")
        return self


class HotlineMapping(BaseModel):
    """A mapping file (see ``cases/data/hotline_mapping.example.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    columns: Columns
    sheet: str | None = Field(default=None, description="xlsx sheet; default the first")
    time_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_FORMATS), min_length=1)
    time_zone: str = "Asia/Shanghai"
    crs: Literal["wgs84", "gcj02"] = "gcj02"
    ref_prefix: str = Field(default="12345", pattern=r"^[A-Za-z0-9_-]{1,16}$")
    categories: dict[str, str] = Field(
        default_factory=dict, description="name in the sheet → 5-digit category code"
    )

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("categories")
    @classmethod
    def _codes(cls, table: dict[str, str]) -> dict[str, str]:
        bad = [f"{name}: {code}" for name, code in table.items() if not CODE.match(str(code))]
        if bad:
            raise ValueError(f"category codes must be 5 digits ({'; '.join(bad)})")
        return {str(k).strip(): str(v) for k, v in table.items()}


def load_mapping(path: Path) -> HotlineMapping:
    """Read and validate a mapping file, or raise ValidationFailed saying what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValidationFailed(f"cannot read mapping {path}: {exc}", code="bad_mapping") from None
    try:
        return HotlineMapping.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'mapping'}: {e['msg']}" for e in exc.errors()
        )
        raise ValidationFailed(f"mapping {path} refused: {problems}", code="bad_mapping") from None


Cell = str | int | float | datetime | date | None


def read_sheet(path: Path, sheet: str | None = None) -> tuple[list[str], list[list[Cell]]]:
    """(header, data rows) of a .xlsx or .csv export (CSV in UTF-8, or GB18030 as Excel saves)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".xlsx":
            from openpyxl import load_workbook

            book = load_workbook(path, read_only=True, data_only=True)
            try:
                if sheet is not None and sheet not in book.sheetnames:
                    raise ValidationFailed(f"{path} has no sheet {sheet!r}", code="bad_sheet")
                ws = book[sheet] if sheet is not None else book.worksheets[0]
                rows: list[list[Cell]] = [list(r) for r in ws.iter_rows(values_only=True)]
            finally:
                book.close()
        elif suffix == ".csv":
            try:
                text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError:
                text = path.read_text(encoding="gb18030")
            rows = [list(r) for r in csv.reader(text.splitlines())]
        else:
            raise ValidationFailed(f"{path}: expected .xlsx or .csv", code="bad_sheet")
    except ValidationFailed:
        raise
    except Exception as exc:  # openpyxl raises many types for a file that is not a workbook
        raise ValidationFailed(f"cannot read {path}: {exc}", code="bad_sheet") from None
    if not rows:
        raise ValidationFailed(f"{path} is empty", code="bad_sheet")
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    return header, rows[1:]


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # the spreadsheet's row number (the header is row 1)
    column: str | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class HotlineRow:
    row: int
    external_ref: str
    received_at: datetime  # UTC
    description: str
    category: str | None  # None: classified from the description on intake
    address: str | None
    point: tuple[float, float] | None  # (lat, lng) in the mapping's crs
    caller_name: str | None
    caller_phone: str | None
    caller_id_number: str | None = None


def column_index(mapping: HotlineMapping, header: list[str]) -> dict[str, int]:
    """Field → column position; every mapped column must be in the header."""
    where = {name: i for i, name in enumerate(header) if name}
    index: dict[str, int] = {}
    missing: list[str] = []
    for field, column in mapping.columns.model_dump().items():
        if column is None:
            continue
        if column not in where:
            missing.append(column)
        else:
            index[field] = where[column]
    if missing:
        raise ValidationFailed(
            f"the sheet has no column {', '.join(missing)} "
            f"(it has: {', '.join(h for h in header if h)})",
            code="bad_mapping",
        )
    return index


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel turns 工单编号 20260101 into 20260101.0
    return str(value).strip()


def _time(mapping: HotlineMapping, value: Cell) -> datetime:
    tz = ZoneInfo(mapping.time_zone)
    if isinstance(value, datetime):
        local = value
    elif isinstance(value, date):
        local = datetime(value.year, value.month, value.day)
    else:
        text = _text(value)
        for fmt in mapping.time_formats:
            try:
                local = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"{text!r} matches none of {', '.join(mapping.time_formats)}")
    if local.tzinfo is None:
        local = local.replace(tzinfo=tz)
    return local.astimezone(UTC)


def category_code(mapping: HotlineMapping, names: dict[str, str], value: str) -> str | None:
    """A 5-digit code as is; a name through the mapping's table, then the catalogue's names."""
    if CODE.match(value):
        return value
    return mapping.categories.get(value) or names.get(value)


def parse_row(
    mapping: HotlineMapping,
    index: dict[str, int],
    names: dict[str, str],
    rowno: int,
    values: list[Cell],
    now: datetime,
) -> HotlineRow | list[RowError]:
    """One data row, or every problem found in it."""
    cols = mapping.columns

    def get(field: str) -> Cell:
        i = index.get(field)
        return values[i] if i is not None and i < len(values) else None

    errors: list[RowError] = []

    def fail(column: str | None, code: str, message: str) -> None:
        errors.append(RowError(rowno, column, code, message))

    ext = _text(get("external_id"))
    if not ext:
        fail(cols.external_id, "missing_field", "工单编号 is empty")
    elif len(ext) > 64 - len(mapping.ref_prefix) - 1:
        fail(cols.external_id, "bad_value", "工单编号 is too long")
    received = now
    try:
        received = _time(mapping, get("received_at"))
        if received > now:
            fail(cols.received_at, "bad_time", "the call time is in the future")
    except ValueError as exc:
        fail(cols.received_at, "bad_time", f"unreadable time: {exc}")
    description = _text(get("description"))
    if not description:
        fail(cols.description, "missing_field", "诉求内容 is empty")
    code: str | None = None
    raw_category = _text(get("category")) if cols.category else ""
    if raw_category:  # missing or unmappable: intake classifies the 诉求内容 (智能分类)
        code = category_code(mapping, names, raw_category)
    point: tuple[float, float] | None = None
    if cols.lat and cols.lng and (_text(get("lat")) or _text(get("lng"))):
        try:
            point = (float(_text(get("lat"))), float(_text(get("lng"))))
            if not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
                raise ValueError
        except ValueError:
            fail(cols.lat, "bad_value", "lat/lng are not a coordinate")
    address = (_text(get("address")) or None) if cols.address else None
    if point is None and address is None and not any(e.column == cols.lat for e in errors):
        fail(cols.address or cols.lat, "no_location", "neither coordinates nor an address")
    if errors:
        return errors
    return HotlineRow(
        row=rowno,
        external_ref=f"{mapping.ref_prefix}:{ext}",
        received_at=received,
        description=description,
        category=code,
        address=address[:200] if address else None,
        point=point,
        caller_name=(_text(get("caller_name")) or None) if cols.caller_name else None,
        caller_phone=(_text(get("caller_phone")) or None) if cols.caller_phone else None,
        caller_id_number=(
            (_text(get("caller_id_number")) or None) if cols.caller_id_number else None
        ),
    )

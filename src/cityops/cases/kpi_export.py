"""The KPI table as an Excel workbook (绩效评价表): monthly reviews still travel as spreadsheets.

One header row with the indicators' Chinese names (reference §1.7), one row per unit, numbers
as numbers (a rate without data is an empty cell, not 0), then the composite and the rating.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from cityops.cases.kpi_query import month_range
from cityops.cases.schemas import KpiPage, KpiRead

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

COLUMNS: tuple[tuple[str, Callable[[KpiRead], Any]], ...] = (
    ("编码", lambda r: r.key),
    ("名称", lambda r: r.name),
    ("上报数", lambda r: r.reported),
    ("立案数", lambda r: r.filed),
    ("结案率(%)", lambda r: r.close_rate),
    ("按期结案率(%)", lambda r: r.on_time_close_rate),
    ("按期处置率(%)", lambda r: r.on_time_handle_rate),
    ("返工率(%)", lambda r: r.rework_rate),
    ("超期数", lambda r: r.overdue),
    ("监督举报率(%)", lambda r: r.public_report_rate),
    ("平均处置时长(小时)", lambda r: r.avg_handling_hours),
    ("满意度", lambda r: r.satisfaction),
    ("满意率(%)", lambda r: r.satisfaction_rate),
    ("综合指标值", lambda r: r.score),
    ("评价等级", lambda r: r.rating),
)
HEADER = tuple(name for name, _ in COLUMNS)
BY_ZH = {
    "district": "区县",
    "street": "镇街",
    "community": "社区",
    "grid": "单元网格",
    "department": "部门",
    "worker": "岗位",
}


def period_label(page: KpiPage, *, tz: ZoneInfo) -> str:
    """``2026-11`` for a calendar month, else ``20261101-20261115`` (last day included)."""
    start = page.period_start.astimezone(tz)
    month = f"{start:%Y-%m}"
    if month_range(month, tz=tz) == (page.period_start, page.period_end):
        return month
    last = (page.period_end - timedelta(microseconds=1)).astimezone(tz)
    return f"{start:%Y%m%d}-{last:%Y%m%d}"


def filename(page: KpiPage, *, tz: ZoneInfo) -> str:
    """``kpi_<jurisdiction or city>_<period>_<by>.xlsx``: ASCII, safe in any header."""
    return f"kpi_{page.jurisdiction or 'city'}_{period_label(page, tz=tz)}_{page.by}.xlsx"


def workbook(page: KpiPage, *, tz: ZoneInfo) -> bytes:
    """The workbook's bytes: one sheet named after the grouping and the period."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{BY_ZH.get(page.by, page.by)}绩效 {period_label(page, tz=tz)}"
    sheet.append(HEADER)
    for row in page.items:
        sheet.append([value(row) for _, value in COLUMNS])
    sheet.freeze_panes = "C2"
    for i, name in enumerate(HEADER, 1):
        sheet.column_dimensions[get_column_letter(i)].width = max(10, 2 * len(name) + 2)
    book.properties.title = f"绩效评价 {page.jurisdiction or '全市'} {period_label(page, tz=tz)}"
    out = BytesIO()
    book.save(out)
    return out.getvalue()

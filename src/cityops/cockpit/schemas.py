"""API shapes of the cockpit: the vital signs of a jurisdiction and the map's point layers."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class ScopeRead(BaseModel):
    code: str
    name: str
    level: str


class TilesRead(BaseModel):
    """The headline figures (体征指标). Rates in percent; None without data."""

    cases_today: int = Field(description="reported since local midnight (今日上报)")
    open: int = Field(description="neither closed, evaluated nor void (在办)")
    overdue: int = Field(description="running, past the deadline, not handled (超期未处置)")
    on_time_rate: float | None = Field(description="按期结案率 of this month's filed cases")
    closure_rate: float | None = Field(description="结案率 of this month's filed cases")
    satisfaction: float | None = Field(description="满意度, mean rating 1–5, this month")
    score: float | None = Field(description="综合指标值 of the jurisdiction this month")
    rating: str | None = Field(description="A–E")
    alarms_active_by_severity: dict[str, int] = Field(
        description="active (unacknowledged) alarms per severity, every severity listed"
    )


class CategoryCountRead(BaseModel):
    code: str = Field(description="category code, or 'other' for 其他")
    name: str
    count: int


class TrendDayRead(BaseModel):
    date: date
    reported: int
    closed: int


class RankingRead(BaseModel):
    """One child jurisdiction's KPI set for the month (the KPI code's figures, not our own)."""

    rank: int | None = Field(description="1 = best; equal scores share a rank; None: no score")
    code: str
    name: str
    score: float | None
    rating: str | None
    filed: int
    close_rate: float | None
    on_time_close_rate: float | None
    overdue: int


class SummaryRead(BaseModel):
    scope: ScopeRead
    children_level: str | None
    as_of: datetime
    period_start: datetime = Field(description="the KPI month (ranking, rates) starts")
    period_end: datetime
    tiles: TilesRead
    by_category: list[CategoryCountRead] = Field(description="last 30 days, top 10 + 其他")
    trend: list[TrendDayRead] = Field(description="30 local days, oldest first, today last")
    ranking: list[RankingRead]


class PointsRead(BaseModel):
    """Columnar points for canvas rendering: the i-th point is (id[i], lat[i], lng[i], ...).

    ``id``: a component's 17-digit ident, a Thing, case or alarm id. ``state``: the component's
    state, the device's status (``alarm``, ``online``, ``offline``, ``no_data``), the case's
    status or the alarm's severity. ``kind``: the component's or case's category, ``sensor`` or
    ``actuator``, the alarm's plan.
    """

    layer: str
    count: int
    truncated: bool
    fields: list[str]
    id: list[int | str]
    lat: list[float]
    lng: list[float]
    state: list[str]
    kind: list[str]

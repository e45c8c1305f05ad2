"""The cockpit's nine boards (九大板块), computed from plain facts about one community.

Pure: the service gathers the facts (twin rows, case tallies, alarms, devices) and this module
turns them into boards. Every metric says where its value comes from: ``data`` (counted from the
database) or ``generated`` (a plausible constant for the demo, deterministic by community code,
because the city has no such source yet). Generated today: 邻里互助's volunteer figures and
山水宜居's green cover, river length, air and water quality. Everything else is counted.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cityops.cases.lifecycle import OPEN_STATES
from cityops.cases.models import CaseStatus, Channel
from cityops.cases.queries import TallyRow

Source = Literal["data", "generated"]
CLOSED = frozenset({CaseStatus.closed, CaseStatus.evaluated})


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label_zh: str
    label_en: str
    value: int | float | str | None
    unit: str = ""
    source: Source = "data"


@dataclass(frozen=True, slots=True)
class Board:
    key: str
    title_zh: str
    title_en: str
    metrics: list[Metric]
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BuildingFact:
    name: str
    kind: str
    floors: int
    households: int
    residents: int
    elderly: int
    year_built: int | None


@dataclass(frozen=True, slots=True)
class FacilityFact:
    kind: str
    name: str
    opening_hours: str


@dataclass(frozen=True, slots=True)
class AlarmFact:
    id: int
    state: str
    severity: str
    message: str
    raised_at: str


@dataclass(frozen=True, slots=True)
class Facts:
    """What the boards are computed from; ``alarms`` is None if the reader may not see them."""

    code: str
    name: str
    area_m2: float | None
    grids: int
    buildings: list[BuildingFact]
    facilities: list[FacilityFact]
    cameras_online: int
    cameras_offline: int
    devices: int
    cases: list[TallyRow]
    overdue: list[TallyRow]
    alarm_counts: Mapping[str, int]
    alarms: list[AlarmFact] | None
    recent_reports: list[dict[str, Any]]
    category_names: Mapping[str, str]


def _n(rows: Iterable[TallyRow]) -> int:
    return sum(r.count for r in rows)


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _walk_up(b: BuildingFact) -> bool:
    """A residential building of 5–7 floors built before 2000: as a rule no lift (无电梯)."""
    return b.kind == "住宅" and 5 <= b.floors <= 7 and (b.year_built or 2000) < 2000


def _by_category(rows: Iterable[TallyRow], names: Mapping[str, str], top: int = 10) -> list[Any]:
    counts: Counter[str] = Counter()
    for r in rows:
        counts[r.category_code] += r.count
    return [
        {"category_code": code, "category_name": names.get(code, code), "count": n}
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    ]


def _facility_items(facts: Facts, kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
    wanted = set(kinds) if kinds is not None else None
    return [
        {"kind": f.kind, "name": f.name, "opening_hours": f.opening_hours}
        for f in facts.facilities
        if wanted is None or f.kind in wanted
    ]


def build_boards(facts: Facts) -> list[Board]:
    """The nine boards in the cockpit's order."""
    return [
        _overview(facts),
        _management(facts),
        _mutual_aid(facts),
        _safety(facts),
        _livable(facts),
        _elderly(facts),
        _convenience(facts),
        _co_governance(facts),
        _supervision(facts),
    ]


def _overview(f: Facts) -> Board:
    homes = [b for b in f.buildings if b.kind == "住宅"]
    residents = sum(b.residents for b in homes)
    kinds: Counter[str] = Counter(b.kind for b in f.buildings)
    return Board("overview", "社区概况", "Community overview", [
        Metric("buildings", "楼栋", "Buildings", len(f.buildings), "栋"),
        Metric("households", "户数", "Households", sum(b.households for b in homes), "户"),
        Metric("residents", "常住人口", "Residents", residents, "人"),
        Metric("elderly", "60岁以上老人", "Residents aged 60+",
               sum(b.elderly for b in homes), "人"),
        Metric("area", "面积", "Area", round(f.area_m2 / 1e6, 2) if f.area_m2 else None, "km²"),
        Metric("grids", "网格", "Unit grids", f.grids, "个"),
        Metric("facilities", "公共设施", "Facilities", len(f.facilities), "处"),
    ], [{"kind": k, "count": n} for k, n in sorted(kinds.items())])  # fmt: skip


def _management(f: Facts) -> Board:
    live = [r for r in f.cases if r.status is not CaseStatus.void]
    open_ = [r for r in live if r.status in OPEN_STATES]
    closed = _n(r for r in live if r.status in CLOSED)
    return Board("management", "智慧管理", "Smart management", [
        Metric("cases", "案件总数", "Cases", _n(live), "件"),
        Metric("open", "在办案件", "Open cases", _n(open_), "件"),
        Metric("closed", "已结案", "Closed cases", closed, "件"),
        Metric("closure_rate", "结案率", "Closure rate", _pct(closed, _n(live)), "%"),
        Metric("devices", "感知设备", "Sensing devices", f.devices, "台"),
        Metric("cameras_online", "在线摄像头", "Cameras online", f.cameras_online, "路"),
    ], _by_category(open_, f.category_names))  # fmt: skip


def _mutual_aid(f: Facts) -> Board:
    rng = random.Random(f"mutual-aid:{f.code}")
    residents = sum(b.residents for b in f.buildings)
    walk_up = sum(b.elderly for b in f.buildings if _walk_up(b))
    volunteers = round(residents * rng.uniform(0.02, 0.04))
    activities = ["爱心义剪", "助老送餐", "楼栋议事会", "邻里调解", "儿童托管"]
    return Board("mutual_aid", "邻里互助", "Neighbourly help", [
        Metric("volunteers", "志愿者", "Volunteers", volunteers, "人", "generated"),
        Metric("service_hours", "本月服务时长", "Service hours this month",
               round(volunteers * rng.uniform(2.0, 5.0)), "小时", "generated"),
        Metric("pairs", "结对帮扶", "Help pairs", round(walk_up * rng.uniform(0.08, 0.15)), "对",
               "generated"),
        Metric("walk_up_elderly", "无电梯楼栋老人", "Elderly in walk-up buildings", walk_up, "人"),
    ], [{"name": a, "participants": rng.randint(8, 60), "source": "generated"}
        for a in activities])  # fmt: skip


def _safety(f: Facts) -> Board:
    overdue = _n(f.overdue)
    items = [
        {"id": a.id, "state": a.state, "severity": a.severity, "message": a.message,
         "raised_at": a.raised_at}
        for a in (f.alarms or [])
    ]  # fmt: skip
    return Board("safety", "平安韧性", "Safety and resilience", [
        Metric("alarms_active", "未处理告警", "Active alarms",
               f.alarm_counts.get("active", 0), "条"),
        Metric("alarms_acknowledged", "已确认告警", "Acknowledged alarms",
               f.alarm_counts.get("acknowledged", 0), "条"),
        Metric("cameras_online", "在线摄像头", "Cameras online", f.cameras_online, "路"),
        Metric("cameras_offline", "离线摄像头", "Cameras offline", f.cameras_offline, "路"),
        Metric("overdue", "超期案件", "Overdue cases", overdue, "件"),
    ], items)  # fmt: skip


def _livable(f: Facts) -> Board:
    rng = random.Random(f"livable:{f.code}")
    squares = _facility_items(f, ["健身广场"])
    return Board("livable", "山水宜居", "Green and liveable", [
        Metric("green_cover", "绿化覆盖率", "Green cover", round(rng.uniform(28, 42), 1), "%",
               "generated"),
        Metric("river_length", "流经河道", "River length", round(rng.uniform(0.3, 1.8), 2), "km",
               "generated"),
        Metric("aqi", "空气质量指数", "Air quality index", rng.randint(35, 85), "", "generated"),
        Metric("water_class", "河道水质", "River water class", rng.choice(["II类", "III类"]), "",
               "generated"),
        Metric("fitness_squares", "健身广场", "Fitness squares", len(squares), "处"),
    ], squares)  # fmt: skip


def _elderly(f: Facts) -> Board:
    homes = [b for b in f.buildings if b.kind == "住宅"]
    elderly, residents = sum(b.elderly for b in homes), sum(b.residents for b in homes)
    stations = _facility_items(f, ["养老服务站"])
    aged = [b for b in homes if b.residents and b.elderly >= 0.3 * b.residents]
    return Board("elderly", "为老服务", "Elderly care", [
        Metric("elderly", "60岁以上老人", "Residents aged 60+", elderly, "人"),
        Metric("elderly_share", "老龄化率", "Share aged 60+", _pct(elderly, residents), "%"),
        Metric("stations", "养老服务站", "Elderly care stations", len(stations), "处"),
        Metric("walk_up_elderly", "无电梯楼栋老人", "Elderly in walk-up buildings",
               sum(b.elderly for b in homes if _walk_up(b)), "人"),
        Metric("aged_buildings", "老龄楼栋(≥30%)", "Buildings with ≥30% aged 60+", len(aged), "栋"),
    ], stations + [{"kind": "楼栋", "name": b.name, "elderly": b.elderly, "floors": b.floors}
                   for b in sorted(aged, key=lambda b: (-b.elderly, b.name))[:10]])  # fmt: skip


CONVENIENCE = ["卫生服务站", "菜市场", "幼儿园", "公厕", "垃圾分类点", "停车场", "社区服务中心"]


def _convenience(f: Facts) -> Board:
    counts = Counter(x.kind for x in f.facilities)
    metrics = [Metric(f"kind_{i}", k, k, counts.get(k, 0), "处") for i, k in enumerate(CONVENIENCE)]
    return Board("convenience", "便民服务", "Services nearby", metrics,
                 _facility_items(f, CONVENIENCE))  # fmt: skip


def _co_governance(f: Facts) -> Board:
    mine = [r for r in f.cases if r.channel is Channel.resident and r.status is not CaseStatus.void]
    closed = [r for r in mine if r.status in CLOSED]
    rated = sum(r.satisfaction_count for r in mine)
    score = sum(r.satisfaction_sum for r in mine)
    return Board("co_governance", "云上共治", "Governing together online", [
        Metric("reports", "居民上报", "Residents' reports", _n(mine), "件"),
        Metric("open", "办理中", "Being handled", _n(r for r in mine if r.status in OPEN_STATES),
               "件"),
        Metric("closed", "已办结", "Closed", _n(closed), "件"),
        Metric("hotline", "12345热线", "12345 hotline",
               _n(r for r in f.cases if r.channel is Channel.hotline), "件"),
        Metric("satisfaction", "满意度", "Satisfaction",
               round(score / rated, 2) if rated else None, "/5"),
    ], f.recent_reports)  # fmt: skip


def _supervision(f: Facts) -> Board:
    timed = [r for r in f.cases if r.handled_on_time is not None]
    on_time = _n(r for r in timed if r.handled_on_time)
    rated = sum(r.satisfaction_count for r in f.cases)
    return Board("supervision", "云上监督", "Oversight online", [
        Metric("on_time_rate", "按期处置率", "Handled on time", _pct(on_time, _n(timed)), "%"),
        Metric("overdue", "超期未办", "Overdue", _n(f.overdue), "件"),
        Metric("escalated", "督办案件", "Escalated (督办)", _n(r for r in f.cases if r.escalated),
               "件"),
        Metric("evaluated", "群众评价", "Evaluations", rated, "件"),
        Metric("satisfaction", "满意度", "Satisfaction",
               round(sum(r.satisfaction_sum for r in f.cases) / rated, 2) if rated else None,
               "/5"),
    ], _by_category(f.overdue, f.category_names))  # fmt: skip

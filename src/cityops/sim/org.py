"""A synthetic organisation: departments, staff with shifts, 部件 and the demo accounts.

Deterministic by seed: each district, street and grid draws from its own generator seeded by
``(seed, code)``, so adding a district does not reshuffle the others. Inputs are plain records
(codes, names, centre points, bounding boxes), not database rows.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time

from cityops.auth.models import Role
from cityops.errors import ValidationFailed
from cityops.registry.models import ComponentState, DepartmentType
from cityops.registry.models import StaffRole as R

BBox = tuple[float, float, float, float]  # min_lng, min_lat, max_lng, max_lat (as Jurisdiction)
T = DepartmentType


@dataclass(frozen=True, slots=True)
class DistrictInput:
    code: str  # 6 digits (GB/T 2260)
    name: str
    center_lat: float
    center_lng: float
    bbox: BBox


@dataclass(frozen=True, slots=True)
class StreetInput:
    code: str  # 9 digits, starting with its district's code
    name: str
    center_lat: float
    center_lng: float
    bbox: BBox


@dataclass(frozen=True, slots=True)
class GridInput:
    code: str  # starts with its street's code
    center_lat: float
    center_lng: float
    bbox: BBox


@dataclass(frozen=True, slots=True)
class DepartmentRecord:
    code: str
    name: str
    type: DepartmentType
    jurisdiction_code: str
    level: str  # district | street
    district_code: str


@dataclass(frozen=True, slots=True)
class StaffRecord:
    code: str
    name: str
    role: R
    department_code: str
    jurisdiction_code: str
    district_code: str
    street_code: str | None
    phone: str
    shift_start: time
    shift_end: time
    works_weekends: bool
    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class ComponentRecord:
    ident: str
    name: str
    category_code: str
    owner_department_code: str | None
    maintainer_department_code: str | None
    grid_code: str
    district_code: str
    street_code: str
    lat: float
    lng: float
    state: ComponentState
    installed_on: date


@dataclass(frozen=True, slots=True)
class UserRecord:
    username: str
    password: str
    role: Role
    scope_code: str | None
    display_name: str
    staff_code: str | None


@dataclass(slots=True)
class OrgRecords:
    departments: list[DepartmentRecord] = field(default_factory=list)
    staff: list[StaffRecord] = field(default_factory=list)

    def departments_by_type(self) -> dict[str, dict[DepartmentType, str]]:
        """Jurisdiction code → department type → department code (for ``build_components``)."""
        out: dict[str, dict[DepartmentType, str]] = {}
        for d in self.departments:
            out.setdefault(d.jurisdiction_code, {}).setdefault(d.type, d.code)
        return out


@dataclass(frozen=True, slots=True)
class LoadResult:
    departments: int
    staff: int
    components: int
    users: int


# District departments: type → (code tag, name suffix, workers, rota team). 城运中心 is staffed
# separately (受理/值班长/派遣, 监督员).
DISTRICT_UNITS: dict[DepartmentType, tuple[str, str, int, bool]] = {
    T.chengguan: ("CG", "城市管理局", 5, False),
    T.shizheng: ("SZ", "市政设施运行中心", 5, True),
    T.huanwei: ("HW", "环境卫生管理所", 4, False),
    T.yuanlin: ("YL", "园林绿化服务中心", 4, False),
    T.jiaotong: ("JT", "交通运输委员会", 3, False),
    T.shuiwu: ("SW", "水利局", 4, True),
    T.zhujian: ("ZJ", "住房城乡建委", 3, False),
    T.shengtai: ("ST", "生态环境局", 3, False),
    T.yingji: ("YJ", "应急管理局", 4, True),
    T.gongan: ("GA", "公安分局交巡警支队", 4, True),
    T.shichang: ("SC", "市场监督管理局", 3, False),
    T.utility: ("GY", "公用事业服务中心", 4, True),
    T.center: ("YZ", "城市运行和治理中心", 0, True),
}
STREET_TAGS = {T.street_office: "JD", T.chengguan: "CG", T.huanwei: "HW", T.center: "ZZ"}

DAY = (time(8, 30), time(17, 30))
ROTA = [(time(8, 0), time(20, 0)), (time(20, 0), time(8, 0))]  # 两班倒, weekends included
SWEEP = [(time(5, 30), time(13, 30)), (time(13, 30), time(21, 30))]  # 环卫 early / late

# 部件 kinds: class code (catalogue), name, owner department type, weight per 100.
COMPONENT_KINDS: list[tuple[str, str, DepartmentType, float]] = [
    ("01001", "供水井盖", T.utility, 7), ("01002", "污水井盖", T.shuiwu, 9),
    ("01003", "雨水井盖", T.shuiwu, 9), ("01004", "雨水箅子", T.shuiwu, 6),
    ("01005", "电力井盖", T.utility, 5), ("01011", "燃气井盖", T.utility, 4),
    ("01902", "通信井盖", T.utility, 4), ("01901", "化粪池", T.huanwei, 2),
    ("01037", "路灯", T.shizheng, 14), ("01077", "综合杆", T.shizheng, 2),
    ("02004", "公交站设施", T.jiaotong, 2), ("02006", "过街天桥", T.shizheng, 0.3),
    ("02901", "城市桥梁", T.shizheng, 0.2), ("02010", "交通标志牌及标线", T.gongan, 3),
    ("02014", "交通信号灯", T.gongan, 1.5), ("02017", "交通护栏", T.shizheng, 3),
    ("02012", "路名牌", T.shizheng, 2), ("03001", "公共厕所", T.huanwei, 0.6),
    ("03005", "垃圾箱", T.huanwei, 12), ("04001", "古树名木", T.yuanlin, 0.1),
    ("04002", "行道树", T.yuanlin, 14),
]  # fmt: skip
_FIRST_INSTALL = date(2005, 1, 1).toordinal()
_STATES = [ComponentState.intact, ComponentState.damaged, ComponentState.lost]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤冉"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉力永健世广志义兴良海山"
    "仁波宁贵福生龙元全胜学祥才发成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦"
    "承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏"
    "泽晨辰士以建家致树炎德行时泰盛雄琛钧冠策腾楠榕风航弘雪梅琳晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾"
)


def _rng(seed: int, key: str) -> random.Random:
    return random.Random(f"{seed}:{key}")


def _person(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('35789')}{rng.randrange(10**9):09d}"


def _point_in(rng: random.Random, bbox: BBox, margin: float = 0.1) -> tuple[float, float]:
    """A (lat, lng) inside the box, away from its edges by ``margin`` of its size."""
    min_lng, min_lat, max_lng, max_lat = bbox
    dx, dy = (max_lng - min_lng) * margin, (max_lat - min_lat) * margin
    lng = rng.uniform(min_lng + dx, max_lng - dx)
    lat = rng.uniform(min_lat + dy, max_lat - dy)
    return round(lat, 6), round(lng, 6)


def center_staff_code(district_code: str, tag: str, k: int) -> str:
    """Codes of 城运中心 posts: ZB 值班长, SL 受理员, PQ 派遣员, LD 领导."""
    return f"{district_code}-YZ-001-{tag}{k:02d}"


def inspector_code(street_code: str, k: int) -> str:
    return f"{street_code}-JDY-{k:02d}"


def _is_town(name: str) -> bool:
    return name.endswith("镇") or name.endswith("乡")


def build_org(
    *, seed: int, districts: Sequence[DistrictInput], streets: Sequence[StreetInput]
) -> OrgRecords:
    """Departments of every district and street, and the staff who work in them."""
    by_district: dict[str, list[StreetInput]] = {d.code: [] for d in districts}
    for s in sorted(streets, key=lambda s: s.code):
        if s.code[:6] not in by_district or len(s.code) != 9:
            raise ValidationFailed(f"street {s.code} is not in a given district", code="bad_street")
        by_district[s.code[:6]].append(s)
    org = OrgRecords()
    for d in sorted(districts, key=lambda d: d.code):
        _district(org, _rng(seed, d.code), d, by_district[d.code])
        for s in by_district[d.code]:
            _street(org, _rng(seed, s.code), d, s)
    return org


def _add_staff(
    org: OrgRecords, rng: random.Random, dept: DepartmentRecord, code: str, role: R,
    shift: tuple[time, time], weekends: bool, at: tuple[float, float], street: str | None,
    jurisdiction: str | None = None,
) -> None:  # fmt: skip
    org.staff.append(
        StaffRecord(
            code=code,
            name=_person(rng),
            role=role,
            department_code=dept.code,
            jurisdiction_code=jurisdiction or dept.jurisdiction_code,
            district_code=dept.district_code,
            street_code=street,
            phone=_phone(rng),
            shift_start=shift[0],
            shift_end=shift[1],
            works_weekends=weekends,
            lat=at[0],
            lng=at[1],
        )
    )


def _district(
    org: OrgRecords, rng: random.Random, d: DistrictInput, streets: list[StreetInput]
) -> None:
    office = (round(d.center_lat, 6), round(d.center_lng, 6))
    for dtype, (tag, suffix, workers, rota) in DISTRICT_UNITS.items():
        dept = DepartmentRecord(
            code=f"{d.code}-{tag}-001", name=d.name + suffix, type=dtype,
            jurisdiction_code=d.code, level="district", district_code=d.code,
        )  # fmt: skip
        org.departments.append(dept)
        _add_staff(org, rng, dept, f"{dept.code}-000", R.leader, DAY, False, office, None)
        if dtype == T.center:
            _center_staff(org, rng, dept, d, streets, office)
            continue
        for k in range(1, workers + 1):
            base = streets[(k - 1) % len(streets)] if streets else None
            at = _point_in(rng, base.bbox) if base else office
            if rota and k <= 2:  # a two-shift emergency team answers day and night
                shift, weekends = ROTA[k % 2], True
            else:
                shift, weekends = DAY, k == workers
            street = base.code if base else None
            _add_staff(
                org, rng, dept, f"{dept.code}-{k:03d}", R.worker, shift, weekends, at, street
            )


def _center_staff(
    org: OrgRecords, rng: random.Random, dept: DepartmentRecord, d: DistrictInput,
    streets: list[StreetInput], office: tuple[float, float],
) -> None:  # fmt: skip
    """城运中心: 值班长, 受理员 and 派遣员 on a 24-hour rota; 监督员 patrol each street by day."""
    posts = [("ZB", R.shift_leader, 2), ("SL", R.acceptor, 4), ("PQ", R.dispatcher, 4)]
    for tag, role, n in posts:
        for k in range(1, n + 1):
            code = center_staff_code(d.code, tag, k)
            _add_staff(org, rng, dept, code, role, ROTA[(k - 1) % 2], True, office, None)
    for s in streets:
        for k in (1, 2):
            at = _point_in(rng, s.bbox)
            code = inspector_code(s.code, k)
            _add_staff(org, rng, dept, code, R.inspector, DAY, k == 2, at, s.code, s.code)


def _street(org: OrgRecords, rng: random.Random, d: DistrictInput, s: StreetInput) -> None:
    town = _is_town(s.name)
    names = {
        T.street_office: s.name + ("人民政府" if town else "办事处"),
        T.chengguan: s.name + "综合行政执法大队",
        T.huanwei: s.name + "环卫所",
        T.center: s.name + "综治中心",
    }
    for dtype, name in names.items():
        dept = DepartmentRecord(
            code=f"{s.code}-{STREET_TAGS[dtype]}-001", name=name, type=dtype,
            jurisdiction_code=s.code, level="street", district_code=d.code,
        )  # fmt: skip
        org.departments.append(dept)
        if dtype == T.street_office:
            _add_staff(org, rng, dept, f"{dept.code}-000", R.leader, DAY, False,
                       _point_in(rng, s.bbox), s.code)  # fmt: skip
            for k in range(1, 4):
                _add_staff(org, rng, dept, f"{dept.code}-{k:03d}", R.street_staff, DAY, k == 3,
                           _point_in(rng, s.bbox), s.code)  # fmt: skip
        elif dtype == T.center:
            for k in (1, 2):
                _add_staff(org, rng, dept, f"{dept.code}-{k:03d}", R.street_staff,
                           ROTA[(k - 1) % 2], True, _point_in(rng, s.bbox), s.code)  # fmt: skip
        else:
            sweep = dtype == T.huanwei
            for k in range(1, 5):
                shift = SWEEP[(k - 1) % 2] if sweep else DAY
                _add_staff(org, rng, dept, f"{dept.code}-{k:03d}", R.worker, shift,
                           sweep or k == 4, _point_in(rng, s.bbox), s.code)  # fmt: skip


def build_components(
    *,
    seed: int,
    grids: Sequence[GridInput],
    departments_by_type: Mapping[str, Mapping[DepartmentType, str]],
    per_grid: int = 5,
) -> list[ComponentRecord]:
    """``per_grid`` 部件 in each grid, with unique 17-digit idents (county + class + sequence)."""
    codes = [k[0] for k in COMPONENT_KINDS]
    weights = [k[3] for k in COMPONENT_KINDS]
    kinds = {k[0]: k for k in COMPONENT_KINDS}
    seq: dict[str, int] = {}
    out: list[ComponentRecord] = []
    for g in sorted(grids, key=lambda g: g.code):
        rng = _rng(seed, g.code)
        district, street = g.code[:6], g.code[:9]
        for category in rng.choices(codes, weights, k=per_grid):
            _, name, owner_type, _w = kinds[category]
            prefix = district + category
            n = seq[prefix] = seq.get(prefix, 0) + 1
            if n > 999_999:
                raise ValidationFailed(f"more than 999999 {name} in {district}", code="too_many")
            owner = departments_by_type.get(district, {}).get(owner_type)
            local = departments_by_type.get(street, {}).get(owner_type)
            lat, lng = _point_in(rng, g.bbox, margin=0.02)
            roll = rng.random()
            state = _STATES[0] if roll < 0.97 else _STATES[1] if roll < 0.995 else _STATES[2]
            out.append(
                ComponentRecord(
                    ident=f"{prefix}{n:06d}",
                    name=f"{name}{n}号",
                    category_code=category,
                    owner_department_code=owner,
                    maintainer_department_code=local or owner,
                    grid_code=g.code,
                    district_code=district,
                    street_code=street,
                    lat=lat,
                    lng=lng,
                    state=state,
                    installed_on=date.fromordinal(_FIRST_INSTALL + rng.randrange(20 * 365)),
                )
            )
    return out


def demo_users(*, password: str, district_code: str, street_code: str) -> list[UserRecord]:
    """The five demo accounts; the staff codes are those ``build_org`` gives."""
    return [
        UserRecord("admin", password, Role.city_admin, None, "市级管理员", None),
        UserRecord("dispatcher", password, Role.district_dispatcher, district_code, "区派遣员",
                   center_staff_code(district_code, "PQ", 1)),
        UserRecord("worker", password, Role.field_worker, street_code, "处置人员",
                   f"{street_code}-CG-001-001"),
        UserRecord("inspector", password, Role.inspector, street_code, "监督员",
                   inspector_code(street_code, 1)),
        UserRecord("resident", password, Role.resident, None, "居民", None),
    ]  # fmt: skip

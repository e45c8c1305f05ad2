"""The synthetic month of discharges: deterministic by seed, spread over the hospitals, and
mostly groupable with a known few that are not."""

from __future__ import annotations

import collections

from cityops.scenarios.medicare.grouper import Status, group_many
from cityops.sim.medicare_discharges import generate, hospitals
from tests.scenarios.medicare.drg_kit import TABLES


def test_hospitals_cover_levels_and_districts() -> None:
    hs = hospitals()
    assert len(hs) == 36 and len({h.code for h in hs}) == 36
    assert collections.Counter(h.level for h in hs) == {"三级": 6, "二级": 18, "一级": 12}
    assert len({h.district for h in hs}) == 12
    assert all(h.code.startswith("H" + h.district) and len(h.code) == 12 for h in hs)


def test_the_same_seed_gives_the_same_month() -> None:
    a = list(generate(TABLES, cases=500, seed=3))
    assert a == list(generate(TABLES, cases=500, seed=3))
    assert a != list(generate(TABLES, cases=500, seed=4))


def test_a_month_mostly_groups_and_tertiary_hospitals_carry_a_higher_cmi() -> None:
    records = list(generate(TABLES, cases=6000, seed=1))
    gs = group_many(records, TABLES)
    status = collections.Counter(g.status for g in gs)
    assert status[Status.grouped] / len(gs) > 0.98
    assert status[Status.ungroupable] > 0 and status[Status.ambiguous] > 0
    weight: dict[str, list[int]] = collections.defaultdict(list)
    for r, g in zip(records, gs, strict=True):
        if g.status == Status.grouped:
            assert r.hospital_level is not None
            weight[r.hospital_level].append(g.weight_e4)
    cmi = {lvl: sum(w) / len(w) for lvl, w in weight.items()}
    assert cmi["三级"] > cmi["二级"] > cmi["一级"]

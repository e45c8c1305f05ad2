"""GB 3838-2002 evaluation and black-odorous grading, worked by hand from the reference table
(/work/shared/reference/scenario-thresholds.md §1); the arithmetic is in the comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityops.errors import ValidationFailed
from cityops.scenarios.river import standards
from cityops.scenarios.river.evaluate import (
    BlackOdorous,
    Grade,
    WaterClass,
    average_values,
    black_odorous,
    grade_of,
    item_class,
    main_pollutants,
    river_grade,
    section_class,
    target_attainment,
    water_body_black_odorous,
)
from cityops.scenarios.river.standards import WaterBody

C = WaterClass
RIVER, LAKE = WaterBody.river, WaterBody.lake
BAD = C.worse_than_v
NONE, LIGHT, SEVERE = BlackOdorous.none, BlackOdorous.light, BlackOdorous.severe


def cls(item: str, value: float, body: WaterBody = RIVER, **kw: float) -> WaterClass:
    return item_class(item=item, value=value, water_body=body, **kw)


@pytest.mark.parametrize(
    ("item", "value", "expected"),
    [
        # NH3-N limits I..V: 0.15 0.5 1.0 1.5 2.0 — a value equal to a limit meets it.
        ("nh3n", 0.15, C.I),
        ("nh3n", 0.16, C.II),
        ("nh3n", 0.5, C.II),  # = the class II limit → II, not III
        ("nh3n", 0.5001, C.III),
        ("nh3n", 2.0, C.V),
        ("nh3n", 2.01, BAD),  # above the V limit → 劣V
        ("nh3n", 0.0, C.I),
        # Two classes share a limit → the better class: COD I = II = 15; BOD5 I = II = 3;
        # Hg I = II = 0.00005; Cu II..V = 1.0.
        ("cod", 15, C.I),
        ("cod", 15.1, C.III),  # > 15, ≤ 20
        ("bod5", 3, C.I),
        ("hg", 0.00005, C.I),
        ("cu", 1.0, C.II),
        ("cu", 1.01, BAD),
        # CODMn 2 4 6 10 15
        ("codmn", 6, C.III),
        ("codmn", 10.5, C.V),
    ],
)
def test_lower_is_better_items_meet_their_limit_inclusively(
    item: str, value: float, expected: WaterClass
) -> None:
    assert cls(item, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    # DO is "≥": I 7.5, II 6, III 5, IV 3, V 2; higher is better.
    [
        (9.0, C.I),
        (7.5, C.I),
        (7.49, C.II),
        (6, C.II),
        (5.99, C.III),
        (3, C.IV),
        (2, C.V),
        (1.9, BAD),
    ],
)
def test_dissolved_oxygen_is_higher_is_better(value: float, expected: WaterClass) -> None:
    assert cls("do", value) == expected


def test_do_at_90_percent_saturation_is_class_i() -> None:
    # 7.0 mg/L alone is II (≥ 6, < 7.5); at ≥ 90 % saturation the standard allows class I.
    assert cls("do", 7.0) == C.II
    assert cls("do", 7.0, do_saturation_pct=92) == C.I
    assert cls("do", 7.0, do_saturation_pct=89) == C.II


def test_total_phosphorus_differs_between_rivers_and_lakes() -> None:
    # TP rivers 0.02 0.1 0.2 0.3 0.4; lakes 0.01 0.025 0.05 0.1 0.2.
    assert cls("tp", 0.05, RIVER) == C.II  # 0.02 < 0.05 ≤ 0.1
    assert cls("tp", 0.05, LAKE) == C.III  # 0.025 < 0.05 ≤ 0.05
    assert cls("tp", 0.15, RIVER) == C.III  # 0.1 < 0.15 ≤ 0.2
    assert cls("tp", 0.15, LAKE) == C.V  # 0.1 < 0.15 ≤ 0.2
    assert cls("tp", 0.3, LAKE) == BAD  # > 0.2
    assert cls("nh3n", 0.3, LAKE) == cls("nh3n", 0.3, RIVER) == C.II  # others share one row


@pytest.mark.parametrize(
    ("value", "expected"), [(6, C.I), (7.2, C.I), (9, C.I), (5.9, BAD), (9.1, BAD), (0, BAD)]
)
def test_ph_is_pass_fail_inside_6_to_9(value: float, expected: WaterClass) -> None:
    assert cls("ph", value) == expected


@pytest.mark.parametrize(
    ("item", "value"),
    [("ph", 14.5), ("ph", -1), ("nh3n", -0.1), ("do", 25), ("tp", float("nan")), ("cod", 1e9)],
)
def test_physically_impossible_values_are_refused(item: str, value: float) -> None:
    with pytest.raises(ValidationFailed) as e:
        cls(item, value)
    assert e.value.code == "value_out_of_range"


def test_unknown_item_is_refused() -> None:
    with pytest.raises(ValidationFailed) as e:
        cls("unobtainium", 1.0)
    assert e.value.code == "unknown_item"


def test_section_takes_its_worst_counted_item() -> None:
    values = {"do": 6.5, "codmn": 5, "nh3n": 1.2, "tp": 0.15}  # II, III, IV (1.0 < 1.2 ≤ 1.5), III
    assert section_class(values=values, water_body=RIVER) == C.IV
    # TN 5.0 is 劣V but TN is reported only (评价办法: not in the river section class).
    assert section_class(values={**values, "tn": 5.0}, water_body=RIVER) == C.IV
    # The same TP in a lake is V (0.1 < 0.15 ≤ 0.2), now the worst item.
    assert section_class(values=values, water_body=LAKE) == C.V
    with pytest.raises(ValidationFailed) as e:
        section_class(values={"tn": 0.3, "fecal_coliform": 100}, water_body=RIVER)
    assert e.value.code == "no_counted_items"


POLLUTED = {
    "nh3n": 1.8,  # V  (1.5 < 1.8 ≤ 2.0)
    "tp": 0.38,  # V  (0.3 < 0.38 ≤ 0.4)
    "petroleum": 0.4,  # IV (0.05 < 0.4 ≤ 0.5)
    "codmn": 8,  # IV (6 < 8 ≤ 10)
    "cod": 25,  # IV (20 < 25 ≤ 30)
    "do": 4,  # IV (3 ≤ 4 < 5)
    "bod5": 3.5,  # III (3 < 3.5 ≤ 4)
}


def test_main_pollutants_worst_class_first_then_largest_multiple() -> None:
    found = main_pollutants(values=POLLUTED, water_body=RIVER)  # against class III
    # tp (0.38 − 0.2)/0.2 = 0.9; nh3n (1.8 − 1.0)/1.0 = 0.8; petroleum (0.4 − 0.05)/0.05 = 7.0
    # has the largest multiple but is IV, so the two V items come first; then among IV:
    # petroleum 7.0 > codmn (8 − 6)/6 = 0.33 > cod (25 − 20)/20 = 0.25 > do (no multiple).
    assert [(p.item, p.water_class) for p in found] == [
        ("tp", C.V), ("nh3n", C.V), ("petroleum", C.IV),
    ]  # fmt: skip
    assert [p.multiple for p in found] == [pytest.approx(0.9), pytest.approx(0.8), pytest.approx(7)]


def test_main_pollutants_against_a_target_class() -> None:
    found = main_pollutants(values=POLLUTED, water_body=RIVER, target_class=C.II, at_most=7)
    # vs class II limits: tp (0.38 − 0.1)/0.1 = 2.8; nh3n (1.8 − 0.5)/0.5 = 2.6;
    # petroleum (0.4 − 0.05)/0.05 = 7.0; codmn (8 − 4)/4 = 1.0; cod (25 − 15)/15 = 0.667;
    # do has no "≤" limit → None (last in IV); bod5 (3.5 − 3)/3 = 0.167 (III: worse than II).
    assert [p.item for p in found] == ["tp", "nh3n", "petroleum", "codmn", "cod", "do", "bod5"]
    approx = pytest.approx
    assert [p.multiple for p in found] == [
        approx(2.8), approx(2.6), approx(7), 1.0, approx(10 / 15), None, approx(0.5 / 3),
    ]  # fmt: skip
    assert main_pollutants(values=POLLUTED, water_body=RIVER, target_class=C.V) == []


def test_grades_and_attainment() -> None:
    assert [grade_of(c) for c in C] == [
        Grade.excellent, Grade.excellent, Grade.good, Grade.light, Grade.moderate, Grade.heavy,
    ]  # fmt: skip
    miss = target_attainment(actual=C.IV, target=C.III)
    assert (miss.attained, miss.gap, miss.phrase) == (False, 1, "劣于III类")
    meet = target_attainment(actual=C.II, target=C.III)
    assert (meet.attained, meet.gap, meet.phrase) == (True, 0, "符合III类")


def sections(good: int, iv: int, bad: int) -> list[WaterClass]:
    return [C.II] * good + [C.IV] * iv + [BAD] * bad


@pytest.mark.parametrize(
    ("classes", "grade"),
    [
        (sections(9, 1, 0), Grade.excellent),  # I–III 9/10 = 90 % ≥ 90 %
        (sections(8, 2, 0), Grade.good),  # 80 %: 75–90 %
        (sections(3, 1, 0), None),  # 3/4 = 75 % … but 4 sections: too few
        (sections(7, 3, 0), Grade.light),  # 70 % < 75 %, 劣V 0 % < 20 %
        (sections(6, 2, 2), Grade.moderate),  # 60 %, 劣V 2/10 = 20 % (20–40 %)
        (sections(5, 1, 4), Grade.heavy),  # 50 %, 劣V 4/10 = 40 % ≥ 40 %
    ],
)
def test_river_grade_by_share_of_sections(classes: list[WaterClass], grade: Grade | None) -> None:
    if grade is None:
        with pytest.raises(ValidationFailed) as e:
            river_grade(classes)
        assert e.value.code == "too_few_sections"
    else:
        assert river_grade(classes).grade == grade


def test_river_with_five_sections_uses_the_share_rule() -> None:
    # 4 of 5 in I–III = 80 % → 良好; 劣V 1/5 = 20 %.
    result = river_grade(sections(4, 0, 1))
    assert (result.grade, result.good_share, result.worst_share) == (Grade.good, 0.8, 0.2)


def test_few_sections_average_the_values_first() -> None:
    avg = average_values([{"tp": 0.1, "nh3n": 1.0}, {"tp": 0.3}])  # tp (0.1 + 0.3)/2 = 0.2
    assert avg == {"tp": pytest.approx(0.2), "nh3n": 1.0}
    assert section_class(values=avg, water_body=RIVER) == C.III  # tp 0.2 ≤ 0.2, nh3n 1.0 ≤ 1.0


@pytest.mark.parametrize(
    ("reading", "grade"),
    [
        ({"transparency_cm": 30, "do": 3, "orp": 100, "nh3n": 5}, NONE),
        ({"transparency_cm": 25}, NONE),  # SD ≥ 25 is not black-odorous
        ({"transparency_cm": 24}, LIGHT),
        ({"transparency_cm": 10}, LIGHT),  # 10–25 light
        ({"transparency_cm": 9.9}, SEVERE),  # < 10
        ({"do": 2.0}, NONE),
        ({"do": 1.99}, LIGHT),
        ({"do": 0.2}, LIGHT),
        ({"do": 0.19}, SEVERE),
        ({"orp": 50.1}, NONE),
        ({"orp": 50}, LIGHT),  # −200 … 50 inclusive
        ({"orp": -200}, LIGHT),
        ({"orp": -201}, SEVERE),
        ({"nh3n": 8.0}, NONE),
        ({"nh3n": 8.1}, LIGHT),
        ({"nh3n": 15}, LIGHT),
        ({"nh3n": 15.1}, SEVERE),
    ],
)
def test_black_odorous_single_reading(reading: dict[str, float], grade: BlackOdorous) -> None:
    assert black_odorous(**reading).grade == grade


def test_black_odorous_point_from_its_samples() -> None:
    # DO severe in 3 of 5 samples = 60 % ≥ 60 % → severe.
    assert black_odorous(do=[0.1, 0.1, 0.1, 3, 3]).grade == SEVERE
    # 2 of 5 = 40 %: one indicator under 60 % → light.
    assert black_odorous(do=[0.1, 0.1, 3, 3, 3]).grade == LIGHT
    # DO 40 % and ORP 40 % severe: two indicators ≥ 30 % → severe.
    two = black_odorous(do=[0.1, 0.1, 3, 3, 3], orp=[-250, -250, 0, 0, 0])
    assert (two.grade, two.severe_shares) == (SEVERE, {"do": 0.4, "orp": 0.4})
    # DO 20 % and ORP 40 %: only one ≥ 30 % → light.
    assert black_odorous(do=[0.1, 3, 3, 3, 3], orp=[-250, -250, 0, 0, 0]).grade == LIGHT
    with pytest.raises(ValidationFailed):
        black_odorous()


def test_shallow_water_transparency_against_its_depth() -> None:
    # Depth 20 cm < 25: clear to the bottom is not black-odorous; below 40 % × 20 = 8 cm severe.
    assert black_odorous(transparency_cm=20, depth_cm=20).grade == NONE
    assert black_odorous(transparency_cm=9, depth_cm=20).grade == LIGHT  # severe if deep (< 10)
    assert black_odorous(transparency_cm=8, depth_cm=20).grade == LIGHT
    assert black_odorous(transparency_cm=7.9, depth_cm=20).grade == SEVERE


def test_water_body_from_its_points() -> None:
    # 3 of 5 severe = 60 % → the whole body is severe; points 0–2 are a severe stretch.
    body = water_body_black_odorous([SEVERE, SEVERE, SEVERE, LIGHT, NONE])
    assert (body.grade, body.severe_stretches) == (SEVERE, [(0, 2)])
    # 3 of 7 = 43 %: light overall, but the run 1–3 (three consecutive severe) is severe.
    body = water_body_black_odorous([LIGHT, SEVERE, SEVERE, SEVERE, LIGHT, LIGHT, LIGHT])
    assert (body.grade, body.severe_stretches) == (LIGHT, [(1, 3)])
    # 4 of 5 severe (80 %) but no run of three.
    body = water_body_black_odorous([SEVERE, SEVERE, LIGHT, SEVERE, SEVERE])
    assert (body.grade, body.severe_stretches) == (SEVERE, [])
    assert water_body_black_odorous([NONE, NONE]).grade == NONE


def test_a_broken_standard_table_stops_loading(tmp_path: Path) -> None:
    text = standards.STANDARD_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "gb3838.yaml"
    broken.write_text(text.replace("[2, 4, 6, 10, 15]", "[2, 4, 16, 10, 15]"), encoding="utf-8")
    with pytest.raises(ValueError, match="not ordered"):
        standards.load(broken)
    assert standards.load().items["codmn"].limits == (2, 4, 6, 10, 15)

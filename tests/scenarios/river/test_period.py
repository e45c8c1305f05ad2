"""Period evaluation over arrays: the same classes as the scalar rules, hand-worked examples from
the GB 3838-2002 tables, and the river grade by averaging (< 5 sections) or by shares (≥ 5)."""

from __future__ import annotations

import numpy as np
import pytest

from cityops.scenarios.river import evaluate as ev
from cityops.scenarios.river import period as pe
from cityops.scenarios.river.standards import STANDARD, WaterBody

NAN = np.nan
ALL = tuple(STANDARD.items)
I, II, III, IV, V, WORSE = 1, 2, 3, 4, 5, 6  # noqa: E741 - the standard's names


def _probe(key: str, water_body: WaterBody, rng: np.random.Generator) -> list[float]:
    """Random values up to three times the class-V limit, every limit, and a hair either side."""
    spec = STANDARD.items[key]
    edges = list(spec.limits_for(water_body) if spec.limits else spec.range or ())
    top = min(spec.max, 3 * max(edges))
    values = [*rng.uniform(spec.min, top, 3000), *edges]
    values += [float(np.nextafter(e, np.inf)) for e in edges]
    values += [float(np.nextafter(e, -np.inf)) for e in edges]
    return [v for v in values if spec.min <= v <= spec.max]


@pytest.mark.parametrize("water_body", list(WaterBody))
def test_every_items_class_is_the_scalar_rules_class(water_body: WaterBody) -> None:
    rng = np.random.default_rng(2002)
    for j, key in enumerate(ALL):
        values = _probe(key, water_body, rng)
        rows = np.full((len(values), len(ALL)), NAN)
        rows[:, j] = values
        got = pe.classify(rows, ALL, water_body == WaterBody.lake)[:, j]
        want = [ev.item_class(item=key, value=v, water_body=water_body) for v in values]
        assert got.tolist() == [int(w) for w in want], key


def test_a_station_by_the_single_factor_method() -> None:
    items = ("ph", "do", "codmn", "cod", "bod5", "nh3n", "tp", "tn")
    row = np.array([7.5, 5.5, 4.0, 15.0, 3.5, 0.5, 0.25, 1.8])
    classes = pe.classify(row, items).tolist()
    # pH 7.5 in 6–9 → I; DO 5 ≤ 5.5 < 6 → III; CODMn 4 = the II limit → II; COD 15 is the limit
    # of I and of II → the better, I; BOD5 3 < 3.5 ≤ 4 → III; NH3-N 0.5 = the II limit → II;
    # TP (river) 0.2 < 0.25 ≤ 0.3 → IV; TN 1.5 < 1.8 ≤ 2.0 → V, but TN is not counted.
    assert classes == [I, III, II, I, III, II, IV, V]
    assert int(pe.overall(np.array(classes), items)) == IV
    assert pe.class_grade(IV) == "轻度污染"
    # In a lake TP's class-V limit is 0.2: 0.25 is 劣V, and so is the station.
    lake = pe.classify(row, items, True)
    assert int(lake[6]) == WORSE and int(pe.overall(lake, items)) == WORSE
    assert pe.class_grade(WORSE) == "重度污染"
    # Main pollutants against class III: TP (0.25 − 0.2)/0.2 = 0.25 in a river;
    # (0.25 − 0.05)/0.05 = 4.0 in a lake.
    (tp,) = pe.main_pollutants(row, items, target=III)
    assert (tp.item, tp.water_class, tp.multiple) == ("tp", ev.WaterClass.IV, pytest.approx(0.25))
    (tp,) = pe.main_pollutants(row, items, target=III, lake=True)
    assert (tp.water_class, tp.multiple) == (ev.WaterClass.worse_than_v, pytest.approx(4.0))


def test_ph_fails_outside_six_to_nine_and_has_no_multiple() -> None:
    items = ("ph", "nh3n", "do")
    row = np.array([9.2, 1.6, 4.0])
    # pH 9.2 > 9 → 劣V; NH3-N 1.5 < 1.6 ≤ 2.0 → V; DO 3 ≤ 4 < 5 → IV.
    assert pe.classify(row, items).tolist() == [WORSE, V, IV]
    found = pe.main_pollutants(row, items, target=III)
    # worst class first: pH (no multiple), NH3-N (1.6 − 1.0)/1.0 = 0.6, DO (no multiple)
    assert [(p.item, p.multiple) for p in found] == [
        ("ph", None), ("nh3n", pytest.approx(0.6)), ("do", None),
    ]  # fmt: skip


def test_main_pollutants_are_the_scalar_rules_on_random_rows() -> None:
    rng = np.random.default_rng(38)
    items = ("ph", "do", "codmn", "cod", "bod5", "nh3n", "tp", "tn")
    for _ in range(300):
        values = {
            "ph": rng.uniform(5, 10), "do": rng.uniform(0, 10), "codmn": rng.uniform(0, 20),
            "cod": rng.uniform(0, 50), "bod5": rng.uniform(0, 12), "nh3n": rng.uniform(0, 3),
            "tp": rng.uniform(0, 0.5), "tn": rng.uniform(0, 3),
        }  # fmt: skip
        target = int(rng.integers(1, 6))
        for wb in WaterBody:
            got = pe.main_pollutants(
                np.array([values[k] for k in items]), items, target=target,
                lake=wb == WaterBody.lake,
            )  # fmt: skip
            want = ev.main_pollutants(
                values=values, water_body=wb, target_class=ev.WaterClass(target)
            )
            assert [(p.item, p.water_class) for p in got] == [(p.item, p.water_class) for p in want]
            assert [p.multiple for p in got] == pytest.approx([p.multiple for p in want])


def test_period_means_skip_gaps_and_cut_at_the_edges() -> None:
    nh3n = [0.5, NAN, 1.5, 1.0, NAN, NAN]
    values = np.array([[nh3n, [NAN] * 6]] * 3)  # 3 stations, 2 items, 6 hours
    sums, counts = pe.period_sums(values, [0, 3], block=2)
    # hours 0–2: (0.5 + 1.5)/2 = 1.0 over 2 hours; hours 3–5: 1.0 over 1 hour
    assert sums[0, 0].tolist() == [2.0, 1.0] and counts[0, 0].tolist() == [2, 1]
    means = pe.means(sums, counts)
    assert means[2, 0].tolist() == [1.0, 1.0]
    assert np.isnan(means[:, 1]).all() and counts[:, 1].sum() == 0
    # a whole period from the sums: (2.0 + 1.0)/(2 + 1) = 1.0, the mean of all 3 hours
    whole = pe.means(sums.sum(axis=-1), counts.sum(axis=-1))
    assert whole[0, 0] == pytest.approx(np.nanmean(nh3n))
    assert np.isnan(pe.means(sums, counts, min_count=2)[0, 0, 1])  # one hour is too few
    for bad in ([1, 3], [0, 3, 3], [0, 6], []):
        with pytest.raises(ValueError, match="edges"):
            pe.period_sums(values, bad)


def test_sections_average_their_stations_and_the_attainment() -> None:
    # two stations on section 0 (NH3-N 1.0 and 1.6), one on section 1 (0.4), none on section 2
    st = np.array([[1.0], [1.6], [0.4]])
    sec = pe.group_means(st, np.array([0, 0, 1]), 3)
    # (1.0 + 1.6)/2 = 1.3 → IV (1.0 < 1.3 ≤ 1.5); 0.4 → II (0.15 < 0.4 ≤ 0.5); none → no data
    assert sec[:2, 0].tolist() == pytest.approx([1.3, 0.4]) and np.isnan(sec[2, 0])
    classes = pe.overall(pe.classify(sec, ("nh3n",)), ("nh3n",))
    assert classes.tolist() == [IV, II, 0]
    assert pe.attained(classes, np.array([III, III, III])).tolist() == [False, True, False]
    # vs III: (1.3 − 1.0)/1.0 = 0.3
    mult = pe.multiples(sec, pe.classify(sec, ("nh3n",)), ("nh3n",), np.array([III, III, III]))
    assert mult[0, 0] == pytest.approx(0.3) and np.isnan(mult[1:, 0]).all()


def test_a_river_of_under_five_sections_averages_their_concentrations() -> None:
    items = ("nh3n", "do")
    # NH3-N 0.4 (II), 1.2 (IV), 1.7 (V); DO 7 (II), 6 (II), 5 (III)
    means = np.array([[0.4, 7.0], [1.2, 6.0], [1.7, 5.0]])
    classes = pe.overall(pe.classify(means, items), items)
    assert classes.tolist() == [II, IV, V]
    g = pe.river_grades(classes, means, np.zeros(3, dtype=np.intp), 1, items)
    # average NH3-N (0.4 + 1.2 + 1.7)/3 = 1.1 → IV; DO 6 → II; so IV, 轻度污染
    assert g.means[0].tolist() == pytest.approx([1.1, 6.0])
    assert (int(g.method[0]), int(g.water_class[0])) == (pe.AVERAGE, IV)
    assert pe.grade_label(int(g.grade[0])) == "轻度污染"
    assert g.class_counts[0].tolist() == [0, 1, 0, 1, 1, 0] and int(g.assessed[0]) == 3


@pytest.mark.parametrize(
    ("classes", "grade", "good", "worst"),
    [
        # 3 of 5 in I–III = 60 % < 75 %; 劣V 1/5 = 20 %, not under 20 % → 中度污染
        ([I, II, III, IV, WORSE], "中度污染", 0.6, 0.2),
        # 9 of 10 in I–III = 90 % → 优
        ([II] * 2 + [III] * 7 + [IV], "优", 0.9, 0.0),
        # 8 of 10 = 80 %: 75–90 % → 良好
        ([III] * 8 + [IV] * 2, "良好", 0.8, 0.0),
        # 2 of 5 = 40 %; 劣V 0 % < 20 % → 轻度污染
        ([III, III, IV, V, V], "轻度污染", 0.4, 0.0),
        # 劣V 2/5 = 40 %: not under 40 % → 重度污染
        ([III, IV, V, WORSE, WORSE], "重度污染", 0.2, 0.4),
    ],
)
def test_five_or_more_sections_are_graded_by_shares(
    classes: list[int], grade: str, good: float, worst: float
) -> None:
    n = len(classes)
    g = pe.river_grades(
        np.array(classes), np.full((n, 1), NAN), np.zeros(n, dtype=np.intp), 1, ("nh3n",)
    )
    assert int(g.method[0]) == pe.SHARE and int(g.water_class[0]) == 0
    assert pe.grade_label(int(g.grade[0])) == grade
    assert (g.good_share[0], g.worst_share[0]) == pytest.approx((good, worst))
    scalar = ev.river_grade([ev.WaterClass(c) for c in classes])
    assert scalar.grade.value == grade


def test_share_rule_is_the_scalar_rule_on_random_rivers() -> None:
    rng = np.random.default_rng(5)
    classes = rng.integers(1, 7, size=(400, 12))
    rivers = np.arange(400) % 40  # 40 rivers of 10 sections, 12 months each
    g = pe.river_grades(classes, np.full((400, 12, 1), NAN), rivers, 40, ("nh3n",))
    for r in range(40):
        for m in range(12):
            want = ev.river_grade([ev.WaterClass(int(c)) for c in classes[rivers == r, m]])
            assert pe.grade_label(int(g.grade[r, m])) == want.grade.value


def test_no_data_is_no_class_and_no_grade() -> None:
    means = np.full((2, 3), NAN)
    classes = pe.overall(pe.classify(means, ("ph", "nh3n", "tn")), ("ph", "nh3n", "tn"))
    assert classes.tolist() == [0, 0]
    g = pe.river_grades(classes, means, np.zeros(2, dtype=np.intp), 1, ("ph", "nh3n", "tn"))
    assert (int(g.method[0]), int(g.grade[0]), int(g.assessed[0])) == (0, -1, 0)
    assert pe.label(0) is None and pe.class_grade(0) is None
    # conductivity is no GB item: it never has a class, whatever its value
    assert pe.classify(np.array([500.0]), ("conductivity",)).tolist() == [0]

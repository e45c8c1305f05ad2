"""Cleaning a patrol's GPS track, worked by hand (pure: no database).

The walk goes north from (106.5 E, 29.5 N) by 0.0001° of latitude every 10 s. One degree of
latitude is R·π/180 = 6,371,008.8 × 0.0174533 = 111,195.08 m, so each step is 11.1195 m
(1.1 m/s, a walk) and a degree of longitude here is 111,195.08 × cos 29.5° = 96,779 m.
The rules are the defaults: 15 m/s, 10 m of jitter, accuracy ≤ 50 m, 3 fixes confirm a move.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.geo.coords import haversine_m, wgs84_to_gcj02
from cityops.scenarios.river.patrol_track import (
    Fix,
    PointFlag,
    TrackRules,
    clean,
    coverage,
    covered_share,
    merge,
    nearest,
    to_wgs84,
)

RULES = TrackRules()
T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
LNG, LAT = 106.5, 29.5
STEP_M = 111_195.08 * 1e-4  # 11.1195 m


def walk(n: int, *, every_s: int = 10, start: int = 0) -> list[Fix]:
    """n fixes going north, arriving in time order, seq 1..n."""
    return [
        Fix(i + 1, T0 + timedelta(seconds=every_s * (start + i)), LAT + 1e-4 * (start + i), LNG)
        for i in range(n)
    ]


def test_a_clean_walk_is_all_trusted_and_its_mileage_is_the_sum_of_its_steps() -> None:
    track = clean(walk(6), RULES)
    assert set(track.flags.values()) == {None}
    assert track.mileage_m == pytest.approx(5 * STEP_M, abs=0.01)  # 55.60 m
    assert track.duration_s == 50
    assert len(track.stretches) == 1 and track.flagged == 0


def test_a_teleport_in_the_middle_is_flagged_and_left_out_of_the_mileage() -> None:
    fixes = walk(6)
    # Fix 4 jumps 0.01° east: 968 m in 10 s, but 15 m/s × 10 s + 10 m allows 160 m.
    fixes[3] = Fix(4, fixes[3].t, fixes[3].lat, LNG + 0.01)
    track = clean(fixes, RULES)
    assert track.flags == {1: None, 2: None, 3: None, 4: PointFlag.teleport, 5: None, 6: None}
    # Fixes 1, 2, 3, 5, 6: 11.12 + 11.12 + 22.24 (3 → 5 skips the spike) + 11.12 = 55.60 m,
    # the same as without the spike: the jump there and back (1,936 m) is not walked.
    assert track.mileage_m == pytest.approx(5 * STEP_M, abs=0.01)
    assert track.duration_s == 50
    assert track.flag_counts == {"teleport": 1}
    assert [f.seq for f in track.stretches[0]] == [1, 2, 3, 5, 6]


def test_reversed_timestamps_are_resorted_and_flagged_out_of_order_but_kept() -> None:
    forward = walk(5)
    # The phone sends them newest first: seq 1 is the latest fix (t = 40 s).
    backward = [Fix(5 - i, f.t, f.lat, f.lng) for i, f in enumerate(forward)]
    track = clean(backward, RULES)
    # seq 1 arrived first; every later arrival is older than something already seen.
    assert track.flags == {1: None, 2: PointFlag.out_of_order, 3: PointFlag.out_of_order,
                           4: PointFlag.out_of_order, 5: PointFlag.out_of_order}  # fmt: skip
    assert track.mileage_m == pytest.approx(4 * STEP_M, abs=0.01)  # 44.48 m, resorted
    assert [f.t for f in track.stretches[0]] == [f.t for f in forward]
    assert track.stretch_of() == {5: 0, 4: 0, 3: 0, 2: 0, 1: 0}


def test_a_gcj02_batch_equals_its_wgs84_twin_after_conversion_within_a_metre() -> None:
    wgs = [(LNG + 0.0003 * i, LAT + 1e-4 * i) for i in range(20)]
    gcj = [wgs84_to_gcj02(x, y) for x, y in wgs]
    # The offset here is several hundred metres, so an unconverted batch would be far off.
    assert haversine_m(*wgs[0], *gcj[0]) > 100
    back = to_wgs84("gcj02", [y for _, y in gcj], [x for x, _ in gcj])
    assert max(haversine_m(*a, *b) for a, b in zip(wgs, back, strict=True)) < 1.0
    as_is = to_wgs84("wgs84", [y for _, y in wgs], [x for x, _ in wgs])
    fixes = [Fix(i + 1, T0 + timedelta(seconds=10 * i), y, x) for i, (x, y) in enumerate(back)]
    twins = [Fix(i + 1, T0 + timedelta(seconds=10 * i), y, x) for i, (x, y) in enumerate(as_is)]
    assert clean(fixes, RULES).mileage_m == pytest.approx(clean(twins, RULES).mileage_m, abs=1.0)


def test_same_time_twice_is_a_duplicate_and_a_poor_fix_is_inaccurate() -> None:
    fixes = walk(4)
    fixes.append(Fix(5, fixes[1].t, LAT + 0.0002, LNG))  # t = 10 s again, elsewhere
    fixes.append(Fix(6, T0 + timedelta(seconds=40), LAT + 0.0004, LNG, accuracy_m=80))
    track = clean(fixes, RULES)
    assert track.flags[5] == PointFlag.duplicate and track.flags[6] == PointFlag.inaccurate
    assert track.flag_counts == {"duplicate": 1, "inaccurate": 1}
    assert track.mileage_m == pytest.approx(3 * STEP_M, abs=0.01)  # the four good fixes


def test_an_inaccurate_fix_does_not_hide_a_good_one_at_the_same_time() -> None:
    first = Fix(1, T0, LAT, LNG, accuracy_m=500)
    second = Fix(2, T0, LAT + 1e-4, LNG, accuracy_m=5)
    track = clean([first, second], RULES)
    assert track.flags == {1: PointFlag.inaccurate, 2: None}


def test_a_fast_move_confirmed_by_three_fixes_starts_a_new_stretch_not_counted() -> None:
    # Three fixes walking, then a car ride: 0.05° north (5.56 km) in 60 s (93 m/s), and three
    # fixes walking on from there. The ride is not patrol mileage; nothing is flagged.
    before = walk(3)
    after = [
        Fix(4 + i, T0 + timedelta(seconds=80 + 10 * i), LAT + 0.05 + 1e-4 * i, LNG)
        for i in range(3)
    ]
    track = clean([*before, *after], RULES)
    assert set(track.flags.values()) == {None}
    assert [[f.seq for f in s] for s in track.stretches] == [[1, 2, 3], [4, 5, 6]]
    assert track.mileage_m == pytest.approx(4 * STEP_M, abs=0.01)  # 2 steps + 2 steps
    assert track.duration_s == 100


def test_a_wrong_first_fix_the_track_moves_away_from_is_the_teleport() -> None:
    bad = Fix(1, T0 - timedelta(seconds=10), LAT - 0.05, LNG)  # 5.6 km south, 10 s earlier
    good = [Fix(i + 2, f.t, f.lat, f.lng) for i, f in enumerate(walk(4))]
    track = clean([bad, *good], RULES)
    assert track.flags[1] == PointFlag.teleport
    assert [f.seq for f in track.stretches[0]] == [2, 3, 4, 5]
    assert track.mileage_m == pytest.approx(3 * STEP_M, abs=0.01)


def test_two_spikes_in_a_row_that_do_not_agree_are_both_teleports() -> None:
    fixes = walk(6)
    fixes[2] = Fix(3, fixes[2].t, LAT, LNG + 0.02)  # 1.9 km east
    fixes[3] = Fix(4, fixes[3].t, LAT, LNG - 0.02)  # 1.9 km west, 3.9 km from the last
    track = clean(fixes, RULES)
    assert [s for s, f in track.flags.items() if f] == [3, 4]
    assert track.mileage_m == pytest.approx(5 * STEP_M, abs=0.01)


def test_merge_and_share_of_intervals() -> None:
    assert merge([(0.7, 0.8), (0.2, 0.5), (0.0, 0.3)]) == [(0.0, 0.5), (0.7, 0.8)]
    assert covered_share([(0.0, 0.3), (0.2, 0.5), (0.7, 0.8)]) == pytest.approx(0.6)
    assert covered_share([]) == 0


def test_coverage_is_the_part_of_the_section_within_the_buffer_of_the_track() -> None:
    # A section running 1,000 m north; the patrol walks 500 m north along it, 50 m to the east.
    north = 1000 / 111_195.08
    section = [(LNG, LAT), (LNG, LAT + north)]
    east = 50 / 96_779.0
    track = [[(LNG + east, LAT + north * k / 10) for k in range(6)]]
    got = coverage(sections={7: section, 8: [(LNG + 1, LAT), (LNG + 1, LAT + 0.01)]},
                   stretches=track, buffer_m=100)  # fmt: skip
    # The 100 m buffer reaches past the track's end by √(100² − 50²) = 86.6 m along the
    # section: covered from 0 to 586.6 m, 0.5866 of it (the buffer's arcs are polygons:
    # ±1 m). Section 8, a degree east, is not near.
    assert list(got) == [7]
    ((a, b),) = got[7]
    assert a == 0 and b == pytest.approx(0.5866, abs=0.001)
    # 120 m away, the buffer does not reach the section.
    far = [[(LNG + 120 / 96_779.0, y) for _, y in track[0]]]
    assert coverage(sections={7: section}, stretches=far, buffer_m=100) == {}


def test_the_nearest_section_to_a_point() -> None:
    sections = {
        1: [(LNG, LAT), (LNG, LAT + 0.01)],
        2: [(LNG + 0.01, LAT), (LNG + 0.01, LAT + 0.01)],
    }
    assert nearest(sections, (LNG + 0.004, LAT + 0.005)) == 1
    assert nearest(sections, (LNG + 0.006, LAT + 0.005)) == 2
    assert nearest({}, (LNG, LAT)) is None

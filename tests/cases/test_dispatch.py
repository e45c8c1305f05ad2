"""Worker choice: on duty only, nearest, with open work breaking near-ties."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from cityops.cases.dispatch import Candidate, choose_worker, haversine_m, is_on_duty
from cityops.errors import ValidationFailed

# A case near 观音桥 (Jiangbei); 0.001° of latitude ≈ 111.2 m.
LAT, LNG = 29.5750, 106.5320


def worker(
    staff_id: int, north_m: float | None, open_cases: int = 0, on_duty: bool = True
) -> Candidate:
    lat = None if north_m is None else LAT + north_m / 111_195.0
    lng = None if north_m is None else LNG
    return Candidate(staff_id, 7, lat, lng, on_duty, open_cases, name=f"W{staff_id}")


def test_haversine_known_distances() -> None:
    assert haversine_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-4)
    # 解放碑 → 观音桥 is a little over 3 km.
    assert 2_500 < haversine_m(29.5574, 106.5770, 29.5750, 106.5320) < 5_000
    assert haversine_m(LAT, LNG, LAT, LNG) == 0


def test_nearest_on_duty_worker_wins() -> None:
    choice = choose_worker(
        candidates=[worker(1, 900), worker(2, 400), worker(3, 50, on_duty=False)],
        lat=LAT,
        lng=LNG,
    )
    assert choice is not None
    assert choice.staff_id == 2
    assert choice.distance_m == pytest.approx(400, abs=1)
    assert (choice.considered, choice.on_duty_count) == (3, 2)
    assert any("在岗" in r for r in choice.reasons)
    assert any("距离 400 m" in r for r in choice.reasons)
    assert any("在办 0 件" in r for r in choice.reasons)


def test_open_work_breaks_near_ties() -> None:
    # 400 m with 2 open cases scores 1000; 500 m with 0 scores 500: the idle worker wins.
    choice = choose_worker(candidates=[worker(1, 400, 2), worker(2, 500, 0)], lat=LAT, lng=LNG)
    assert choice is not None and choice.staff_id == 2
    # But a much nearer busy worker still wins: 100 m + 300 = 400 < 2000.
    choice = choose_worker(candidates=[worker(1, 100, 1), worker(2, 2000, 0)], lat=LAT, lng=LNG)
    assert choice is not None and choice.staff_id == 1
    # With the penalty off it is pure distance.
    choice = choose_worker(
        candidates=[worker(1, 400, 2), worker(2, 500, 0)],
        lat=LAT,
        lng=LNG,
        open_case_penalty_m=0,
    )
    assert choice is not None and choice.staff_id == 1


def test_exact_tie_goes_to_fewer_open_cases_then_lower_id() -> None:
    # 700 m + 0 and 400 m + 1 × 300 both score 700.
    choice = choose_worker(candidates=[worker(5, 400, 1), worker(9, 700, 0)], lat=LAT, lng=LNG)
    assert choice is not None and choice.staff_id == 9
    choice = choose_worker(candidates=[worker(9, 300), worker(4, 300)], lat=LAT, lng=LNG)
    assert choice is not None and choice.staff_id == 4


def test_max_open_skips_full_workers_and_none_when_nobody_fits() -> None:
    candidates = [worker(1, 10, 5), worker(2, 3000, 1)]
    choice = choose_worker(candidates=candidates, lat=LAT, lng=LNG, max_open=5)
    assert choice is not None and choice.staff_id == 2
    assert any("1 人已满 5 件" in r for r in choice.reasons)
    assert choose_worker(candidates=candidates, lat=LAT, lng=LNG, max_open=1) is None
    assert choose_worker(candidates=[worker(1, 10, on_duty=False)], lat=LAT, lng=LNG) is None
    assert choose_worker(candidates=[], lat=LAT, lng=LNG) is None


def test_workers_without_position_come_after_located_ones() -> None:
    choice = choose_worker(candidates=[worker(1, None), worker(2, 8000, 3)], lat=LAT, lng=LNG)
    assert choice is not None and choice.staff_id == 2
    choice = choose_worker(candidates=[worker(1, None, 2), worker(2, None, 0)], lat=LAT, lng=LNG)
    assert choice is not None and choice.staff_id == 2
    assert choice.distance_m is None
    assert any("位置未知" in r for r in choice.reasons)


@pytest.mark.parametrize(("lat", "lng"), [(91, 0), (0, 181), (float("nan"), 0)])
def test_bad_case_point_is_rejected(lat: float, lng: float) -> None:
    with pytest.raises(ValidationFailed):
        choose_worker(candidates=[worker(1, 0)], lat=lat, lng=lng)


def on(
    now: datetime,
    start: time = time(8, 30),
    end: time = time(17, 30),
    *,
    weekends: bool = False,
    leave: bool = False,
    workday: bool = True,
    previous: bool | None = None,
) -> bool:
    return is_on_duty(
        shift_start=start,
        shift_end=end,
        works_weekends=weekends,
        on_leave=leave,
        local_now=now,
        is_workday=workday,
        previous_is_workday=previous,
    )


def test_day_shift() -> None:
    assert on(datetime(2026, 11, 25, 8, 30))
    assert on(datetime(2026, 11, 25, 17, 29))
    assert not on(datetime(2026, 11, 25, 17, 30))
    assert not on(datetime(2026, 11, 25, 8, 0))
    assert not on(datetime(2026, 11, 25, 10), leave=True)


def test_days_off_unless_working_weekends() -> None:
    saturday = datetime(2026, 11, 28, 10)
    assert not on(saturday, workday=False)
    assert on(saturday, workday=False, weekends=True)


def test_overnight_shift() -> None:
    night = (time(20, 0), time(6, 0))
    assert on(datetime(2026, 11, 25, 22), *night)
    assert on(datetime(2026, 11, 26, 3), *night)
    assert not on(datetime(2026, 11, 26, 6), *night)
    assert not on(datetime(2026, 11, 26, 12), *night)
    # Saturday 03:00 belongs to Friday night's shift, which began on a workday.
    assert on(datetime(2026, 11, 28, 3), *night, workday=False, previous=True)
    assert not on(datetime(2026, 11, 28, 22), *night, workday=False)


def test_equal_start_and_end_is_a_24_hour_shift() -> None:
    assert on(datetime(2026, 11, 25, 3), time(0, 0), time(0, 0))

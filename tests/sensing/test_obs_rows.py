"""The insert's parameters, made column by column before the transaction (``obs_rows``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from cityops.sensing import obs_rows
from cityops.sensing.models import to_micros
from cityops.sensing.validate import Reading

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def _r(
    ds: int,
    seconds: float,
    value: float | None = 1.0,
    as_json: object = None,
    parameters: dict[str, object] | None = None,
    foi_id: int | None = None,
) -> Reading:
    return Reading(ds, T0 + timedelta(seconds=seconds), value, as_json, None, parameters, foi_id)


def test_numbers_go_as_short_rows_sorted_by_time_then_datastream() -> None:
    """The recent table's key order, so a batch appends at its end."""
    rows = obs_rows.prepare([_r(3, 0, 1.5), _r(1, 5, 2.5), _r(1, 0, 0.1)])
    assert rows.sent == [
        (1, to_micros(T0), 0.1),
        (3, to_micros(T0), 1.5),
        (1, to_micros(T0) + 5_000_000, 2.5),
    ]
    statements = rows.statements  # three rows: a statement of two, then one of one
    assert [count for _sql, _params, count, _part in statements] == [2, 1]
    assert all("result_json" not in sql for sql, *_rest in statements)
    assert all("observation_recent_0 " in sql for sql, *_rest in statements)
    params = [x for _sql, chunk, _n, _part in statements for x in chunk]
    # each row led by its offset in ``sent``: its id's distance from the batch's first id
    assert params == [x for i, row in enumerate(rows.sent) for x in (i, *row)]


def test_a_batch_splits_by_block_of_datastreams_in_table_order() -> None:
    """Block b (1,000 ids) goes to recent table b % 10; ids follow the statements' order."""
    rows = obs_rows.prepare([_r(12_345, 0), _r(2_001, 0), _r(7, 1), _r(1_999, 2)])
    assert [s[0] for s in rows.sent] == [7, 1_999, 2_001, 12_345]
    tables = [sql.split()[2] for sql, _params, _n, _p in rows.statements]
    assert tables == ["observation_recent_0", "observation_recent_1", "observation_recent_2"]
    assert [n for _sql, _params, n, _p in rows.statements] == [1, 1, 2]


def test_a_repeat_in_the_batch_keeps_the_first_and_the_batch_order() -> None:
    rows = obs_rows.prepare([_r(2, 0, 9.0), _r(1, 0, 1.0), _r(2, 0, 7.0)])
    assert [(r.datastream_id, r.result) for r in rows.readings] == [(2, 9.0), (1, 1.0)]
    assert [s[2] for s in rows.sent] == [1.0, 9.0]


def test_objects_and_extras_take_the_longer_rows() -> None:
    extra = _r(4, 1, None, {"state": "开"}, {"k": 1}, 7)
    rows = obs_rows.prepare([_r(5, 0, None, "ok"), extra, _r(1, 0, 2.0)])
    assert [len(s) for s in rows.sent] == [4, 4, 7]  # plain (sorted), then the full one
    assert rows.sent[0] == (1, to_micros(T0), 2.0, None)
    assert rows.sent[1] == (5, to_micros(T0), None, '"ok"')
    assert rows.sent[2][3:] == ('{"state": "开"}', None, '{"k": 1}', 7)
    assert len(rows.statements) == 2


def test_every_time_its_own_gives_the_same_micros() -> None:
    readings = [_r(i, i * 0.001 + 0.000_001 * (i % 7)) for i in range(1, 2000)]
    few = [_r(i, (i % 3) * 10) for i in range(1, 2000)]
    for batch in (readings, few):
        rows = obs_rows.prepare(batch)
        by_key = {s[0]: s[1] for s in rows.sent}
        assert all(by_key[r.datastream_id] == to_micros(r.phenomenon_time) for r in batch)


def test_event_data_is_columnar_with_epoch_seconds() -> None:
    batch = [_r(1, 0.25, 3.0), _r(2, 1, None, {"a": 1})]
    data = obs_rows.event_data(batch, True)
    assert data == {
        "count": 2,
        "evaluated": True,
        "datastream_id": [1, 2],
        "time": [r.phenomenon_time.timestamp() for r in batch],
        "result": [3.0, {"a": 1}],
    }
    assert obs_rows.event_data([], False)["count"] == 0


def test_event_data_from_the_prepared_columns_is_the_same_to_the_microsecond() -> None:
    """The store's event takes the columns ``prepare`` made (µs / 10⁶): the same floats as
    ``datetime.timestamp`` for every microsecond, numbers and objects alike."""
    rng = random.Random(4)
    batch = [_r(i, rng.randrange(10**9) / 1e6, rng.random()) for i in range(1, 3000)]
    batch.append(_r(5000, 0.5, None, {"门": "开"}))
    rows = obs_rows.prepare(batch)
    assert obs_rows.event_data(rows.readings, False, rows) == obs_rows.event_data(batch, False)
    fewer = rows.readings[:10]  # not the prepared readings: computed from the readings
    assert obs_rows.event_data(fewer, False, rows) == obs_rows.event_data(fewer, False)


def test_a_gateway_batch_with_a_repeated_datastream_keeps_the_first() -> None:
    """One time for the whole batch: uniqueness is by datastream alone."""
    rows = obs_rows.prepare([_r(9, 0, 1.0), _r(3, 0, 2.0), _r(9, 0, 3.0), _r(1_500, 0, 4.0)])
    assert [(r.datastream_id, r.result) for r in rows.readings] == [
        (9, 1.0),
        (3, 2.0),
        (1_500, 4.0),
    ]
    assert [s[0] for s in rows.sent] == [3, 9, 1_500]


def test_the_validators_columns_make_the_same_rows() -> None:
    """``validate.Checked.numbers`` spares ``prepare`` taking the batch apart, and changes
    nothing it makes: rows, statements, columns — with one time or many, and a repeat."""
    from cityops.sensing.validate import NUMERIC_TYPES, check

    rng = random.Random(5)
    now = T0 + timedelta(minutes=1)
    gateway = [[d, T0.isoformat(), rng.random()] for d in rng.sample(range(1, 9000), 3000)]
    spread = [[rng.randrange(1, 9000), T0 + timedelta(seconds=i), 1.0 * i] for i in range(3000)]
    for raws in (gateway, spread, [*spread[:10], spread[3]]):
        checked = check(raws, known=dict.fromkeys(range(1, 9000), min(NUMERIC_TYPES)), now=now)
        assert checked.numbers is not None and not checked.rejected
        given = obs_rows.prepare(checked.accepted, checked.numbers)
        taken = obs_rows.prepare(checked.accepted)
        assert given.readings == taken.readings and given.sent == taken.sent
        assert given.statements == taken.statements
        assert given.columns is not None and taken.columns is not None
        assert [list(c) for c in given.columns] == [list(c) for c in taken.columns]

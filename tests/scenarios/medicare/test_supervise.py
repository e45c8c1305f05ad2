"""基金监管 rules on hand-made data: each type hits just past its boundary and not at it; a bad
rule is reported with its id and reason and disabled; Tukey fences worked by hand; the
synthetic month's planted cases are all found and its clean part raises nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from cityops.scenarios.medicare import peers
from cityops.scenarios.medicare.supervise import CHECKS, Discharges, Hit, Institutions, evaluate
from cityops.scenarios.medicare.supervision_rules import Rule, RuleSet, load_rules, parse_rules
from cityops.sim.medicare_fundsup import generate
from tests.scenarios.medicare.fundsup_kit import DAY, lines

BASE = {"name": "r", "severity": "suspect", "legal_basis": "条例第15条"}


def rule(**kw: Any) -> Rule:
    return Rule.model_validate({"id": "T", **BASE, **kw})


def run(r: Rule, rows: list[dict[str, Any]], d: Discharges | None = None) -> list[Hit]:
    return CHECKS[r.type](r, lines(rows), d)


@pytest.mark.parametrize(
    ("r", "bad", "good"),
    [
        (rule(type="sex_restriction", items=["MALE"], sex=1), {"sex": 2}, {"sex": 1}),
        (rule(type="age_restriction", items=["CHILD"], max_age=14), {"age": 15}, {"age": 14}),
        (rule(type="insutype_restriction", items=["INJURY"], insutypes=["410"]),
         {"insutype": 310}, {"insutype": 410}),
        (rule(type="visit_type_restriction", items=["ER"], med_types=["21"]),
         {"med_type": 41}, {"med_type": 21}),
        (rule(type="level_restriction", items=["L2"], min_level=2), {"inst": "H1"}, {"inst": "H3"}),
        (rule(type="over_quantity", threshold=10), {"cnt": 11}, {"cnt": 10}),
    ],
)  # fmt: skip
def test_restrictions_hit_past_the_boundary_only(r: Rule, bad: dict, good: dict) -> None:
    item = r.items[0] if r.items else "G1"
    hits = run(r, [{"item": item, **bad, "psn": 1}, {"item": item, **good, "psn": 2}])
    assert len(hits) == 1
    assert hits[0].evidence["lines"] == [100]
    assert hits[0].evidence["legal_basis"] == "条例第15条"
    assert not run(r, [{"item": item, **good}])
    assert not run(
        r, [{"item": item, **bad, "refund": 90}]
    )  # a refunded sale cost the fund nothing


def test_unknown_sex_or_age_never_hits() -> None:
    assert not run(
        rule(type="sex_restriction", items=["MALE"], sex=1), [{"item": "MALE", "sex": 0}]
    )
    assert not run(
        rule(type="age_restriction", items=["CHILD"], max_age=14), [{"item": "CHILD", "age": -1}]
    )


def test_duplicate_charge_same_day_only() -> None:
    r = rule(type="duplicate_charge", pairs=[["SA", "SB"]], window_days=1)
    same = [{"item": "SA", "inst": "H1"}, {"item": "SB", "inst": "H1", "minute": 1400}]
    hits = run(r, same)
    assert [(h.subject, h.subject_kind, h.evidence["count"]) for h in hits] == [
        ("H1", "hospital", 2)
    ]
    assert not run(r, [{"item": "SA", "inst": "H1"}, {"item": "SB", "inst": "H1", "day": 1}])
    assert not run(r, [{"item": "SA", "inst": "H1"}, {"item": "SB", "inst": "H1", "psn": 2}])


def test_trace_code_settled_twice_flags_the_later_sale() -> None:
    r = rule(type="trace_code_reuse", threshold=1)
    hits = run(r, [{"trace": 7, "inst": "P1"}, {"trace": 7, "inst": "P2", "day": 2}])
    assert [
        (h.subject, h.evidence["trace_codes"], h.evidence["first_sold_line"]) for h in hits
    ] == [("P2", ["7"], {"7": 100})]
    # the first sale refunded: the box came back and was sold once more, legitimately
    assert not run(r, [{"trace": 7, "refund": 30}, {"trace": 7, "inst": "P2", "day": 2}])


def test_frequent_purchase_counts_settlements_per_natural_month() -> None:
    r = rule(type="frequent_purchase", threshold=4)
    five = [{"psn": 3, "day": d} for d in range(5)]
    hits = run(r, five)
    assert [(h.subject_kind, h.subject, h.window) for h in hits] == [
        ("person", "5001000003", "2026-05")
    ]
    assert not run(r, five[:4])
    # May 28–31 and June 1: five purchases, no more than four in either month
    assert not run(r, [{"psn": 3, "day": d} for d in range(24, 29)])


def test_swipe_refund_within_the_window_counted_per_pharmacy() -> None:
    r = rule(type="swipe_refund", window_minutes=10, threshold=3)
    assert len(run(r, [{"refund": 10, "minute": 600 + i} for i in range(3)])) == 1
    assert not run(r, [{"refund": 11, "minute": 600 + i} for i in range(3)])
    assert not run(r, [{"refund": 10, "minute": 600 + i} for i in range(2)])


def test_foot_traffic_above_threshold_or_capacity() -> None:
    r = rule(type="foot_traffic", threshold=3)
    hits = run(r, [{"minute": 600 + i} for i in range(4)])
    assert hits[0].evidence["settlements_max_day"] == 4 and hits[0].evidence["days"] == [
        "2026-05-04"
    ]
    assert not run(r, [{"minute": 600 + i} for i in range(3)])
    assert not run(r, [{"minute": 600 + i, "setl": 1} for i in range(4)])  # one settlement, 4 lines


def _stays(gap: int, **kw: Any) -> Discharges:
    e = kw.get("emergency", False)
    return Discharges(
        record_id=["a", "b"], psn=np.array([1, 1], np.int32), hosp=np.array([2, 2], np.int32),
        adm_day=np.array([DAY, DAY + 5 + gap]), dis_day=np.array([DAY + 5, DAY + 9 + gap]),
        disease=np.array([3, kw.get("disease", 3)], np.int32), emergency=np.array([False, e]),
        planned=np.zeros(2, bool),
    )  # fmt: skip


def test_readmission_within_15_days_same_disease_not_emergency() -> None:
    r = rule(type="readmission", window_days=15)
    hits = run(r, [{}], _stays(15))
    assert [(h.subject, h.evidence["readmissions"], h.evidence["gap_days"]) for h in hits] == [
        ("H1", [["a", "b"]], [15])
    ]
    assert not run(r, [{}], _stays(16))
    assert not run(r, [{}], _stays(3, disease=4))
    assert not run(r, [{}], _stays(3, emergency=True))


def test_a_bad_rule_is_reported_with_its_id_and_disabled() -> None:
    doc = {"rules": [
        {"id": "OK", "type": "over_quantity", "threshold": 5, **BASE},
        {"id": "NOSEX", "type": "sex_restriction", "items": ["X"], **BASE},
        {"id": "BAD", "type": "nonsense", **BASE},
        {"id": "OK", "type": "over_quantity", "threshold": 6, **BASE},
    ]}  # fmt: skip
    rs = parse_rules(doc)
    assert [r.id for r in rs.rules] == ["OK"]
    assert len(rs.errors) == 3
    assert "(NOSEX)" in rs.errors[0] and "needs sex" in rs.errors[0] and "disabled" in rs.errors[0]
    assert "(BAD)" in rs.errors[1] and "type" in rs.errors[1]
    assert "duplicate id OK" in rs.errors[2]
    assert parse_rules("nope").rules == ()


def test_shipped_rules_load_cleanly() -> None:
    rs = load_rules()
    assert rs.errors == () and {r.type for r in rs.rules} == set(CHECKS)


def test_tukey_fence_by_hand() -> None:
    f = peers.tukey(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
    assert (f.q1, f.q3, f.iqr, f.fence, f.far) == (2.0, 4.0, 2.0, 7.0, 10.0)


def test_peer_outlier_is_flagged_with_its_group() -> None:
    codes = [f"P{i}" for i in range(6)]
    inst = Institutions(codes=codes, level=np.zeros(6, np.int8), district=["500103"] * 6,
                        kind=["chain"] * 6, capacity=np.full(6, np.nan))  # fmt: skip
    per = np.array([1000, 1100, 1200, 1300, 1400, 9000], np.int64)  # Q1 1125, Q3 1375, fence 1750
    t = dataclasses.replace(
        lines([{"day": 0}] * 6),
        inst=np.arange(6, dtype=np.int32),
        amount=per,
        acct_pay=per * 9 // 10,
        institutions=inst,
    )
    hits = [
        h for h in peers.peer_outliers(t, min_peers=5) if h.evidence["metric"] == "sales_per_day"
    ]
    got = [(h.subject, h.severity, h.evidence["threshold"], h.evidence["percentile"]) for h in hits]
    assert got == [("P5", "definite", 1750.0, 100.0)]
    assert peers.peer_outliers(t, min_peers=7) == []  # a group of 6 is too small for 7


def test_synthetic_month_all_planted_found_no_false_positive() -> None:
    rules = load_rules()
    syn = generate(rules, lines=60_000, plants=5)
    found = {(h.rule_type, h.subject) for h in evaluate(rules, syn.transactions, syn.discharges)}
    assert syn.planted <= found
    assert found - syn.planted == set()
    assert {k for k, _ in syn.planted} == {r.type.value for r in rules.rules}


def test_disabled_rule_set_evaluates_nothing() -> None:
    assert evaluate(RuleSet(1, (), ()), lines([{"cnt": 99}])) == []

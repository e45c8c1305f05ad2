"""The CHS-DRG grouper on the synthetic tables: precedence, ADRG rules, CC/MCC with exclusions,
splits, ambiguous and ungroupable results, and the trace a coder reads."""

from __future__ import annotations

import gc

from cityops.scenarios.medicare.grouper import Status, group_many
from cityops.scenarios.medicare.grouper import group as group_one
from tests.scenarios.medicare.drg_kit import TABLES, group, rec, trace


def test_appendectomy_with_mcc_and_an_excluded_mcc_reads_as_a_trace() -> None:
    g = group(principal_dx="K35.800", procedures="47.0901", other_dx="K65.000;J18.900")
    assert (g.status, g.mdc, g.adrg, g.drg, g.cc_level) == (
        Status.grouped,
        "G",
        "GD1",
        "GD11",
        "MCC",
    )
    assert g.weight_e4 == 13_500
    assert trace(g) == [
        "MDC G: principal diagnosis K35.800 in MDCG list",
        "ADRG GD1: principal procedure 47.0901 in GD1 procedure list",
        "MCC K65.000 excluded: its exclusion table T-GI is excluded for K35.800",
        "MCC: J18.900 (not excluded for K35.800)",
        "DRG GD11: with MCC; RW 1.35",
    ]
    assert [s.stage for s in g.trace] == ["mdc", "adrg", "cc", "cc", "drg"]


def test_the_same_diagnosis_without_a_procedure_is_medical() -> None:
    g = group(principal_dx="K35.800", other_dx="E11.900")
    assert (g.adrg, g.drg, g.cc_level) == ("GZ1", "GZ13", "CC")
    assert "ADRG GZ1: principal diagnosis K35.800 in GZ1 diagnosis list" in trace(g)


def test_only_excluded_complications_leave_the_case_without_cc() -> None:
    g = group(principal_dx="K35.800", procedures="47.0901", other_dx="K65.000;K21.000")
    assert (g.drg, g.cc_level) == ("GD15", "none")


def test_mcc_takes_the_cc_split_when_the_adrg_has_no_mcc_split() -> None:
    g = group(principal_dx="K25.000", other_dx="N17.900")  # GU1 splits 3/5 only
    assert (g.drg, g.cc_level) == ("GU13", "MCC")
    assert "the case has MCC; ADRG GU1 has no split 1" in trace(g)[-1]


def test_an_unsplit_adrg_ends_in_9_whatever_the_complications() -> None:
    g = group(principal_dx="K40.900", procedures="53.0000", other_dx="J18.900")
    assert g.drg == "GE19"
    assert trace(g)[-1].startswith("DRG GE19: not split")


def test_pre_mdc_ventilation_comes_before_the_principal_diagnosis() -> None:
    g = group(principal_dx="J18.900", vent_hours=120)
    assert (g.mdc, g.adrg, g.drg) == ("A", "AH1", "AH15")
    assert trace(g)[0] == "MDC A: 先期分组: invasive ventilation 120 h ≥ 96 h"
    assert group(principal_dx="J18.900", vent_hours=95).mdc == "E"


def test_combined_transplant_needs_both_procedures() -> None:
    assert group(principal_dx="N18.900", procedures="52.8000;55.6900").drg == "AC19"
    g = group(principal_dx="N18.900", procedures="55.6900")
    assert g.status == Status.ungroupable  # N18 is in no synthetic MDC


def test_newborn_by_age_splits_by_birth_weight() -> None:
    kw = {"age": 0, "age_days": 5, "principal_dx": "P07.300"}
    assert group(**kw, birth_weight_g=1400).drg == "PS19"
    assert group(**kw, birth_weight_g=1800, other_dx="J96.000").drg == "PS21"
    assert group(**kw, birth_weight_g=3200).drg == "PS45"
    assert trace(group(**kw, birth_weight_g=3200))[0] == "MDC P: newborn, 5 days old (< 29)"


def test_an_older_infant_enters_mdcp_only_with_a_neonatal_diagnosis() -> None:
    infant = {"age": 0, "age_days": 200, "birth_weight_g": 3000}
    assert group(principal_dx="P59.900", **infant).mdc == "P"
    assert group(principal_dx="J18.900", **infant).mdc == "E"


def test_a_newborn_with_an_unlisted_diagnosis_is_ungroupable_with_the_reason() -> None:
    g = group(principal_dx="J18.900", age=0, age_days=10, birth_weight_g=3000)
    assert (g.drg, g.status, g.mdc) == ("0000", Status.ungroupable, "P")
    assert g.reason == "no ADRG of MDC P takes principal diagnosis J18.900"


def test_hiv_as_an_other_diagnosis_moves_the_case_to_mdcy() -> None:
    g = group(principal_dx="J18.900", other_dx="B24.x01")
    assert (g.mdc, g.drg) == ("Y", "YR15")
    assert trace(g)[0] == "MDC Y: other diagnosis B24.x01 in MDCY list"


def test_multiple_trauma_needs_two_body_regions() -> None:
    two = group(principal_dx="S72.000", other_dx="S06.500", procedures="79.3500")
    assert (two.mdc, two.drg) == ("Z", "ZC15")
    assert "severe trauma in 2 body regions" in trace(two)[0]
    one = group(principal_dx="S72.000", other_dx="S72.100", procedures="79.3500")
    assert (one.mdc, one.adrg) == ("I", "IF1")


def test_sex_conditioned_mdc_and_its_reason() -> None:
    assert group(principal_dx="D25.900", sex=2).mdc == "N"
    g = group(principal_dx="D25.900", sex=1)
    assert g.drg == "0000"
    assert g.reason == "principal diagnosis D25.900 fits no MDC for sex 1 (MDC N needs sex 2)"


def test_a_diagnosis_in_no_mdc_is_ungroupable() -> None:
    g = group(principal_dx="R50.900")
    assert (g.drg, g.mdc, g.weight_e4) == ("0000", None, 0)
    assert trace(g) == ["0000: principal diagnosis R50.900 is in no MDC"]


def test_an_or_procedure_foreign_to_the_mdc_is_ambiguous() -> None:
    g = group(principal_dx="I10.x00", procedures="54.1100")
    assert (g.drg, g.status, g.mdc) == ("FQY", Status.ambiguous, "F")
    assert g.reason == "OR procedure 54.1100 is in no surgical ADRG of MDC F"


def test_a_non_or_procedure_does_not_make_a_case_ambiguous() -> None:
    assert group(principal_dx="K92.200", procedures="44.4301").drg == "GK15"
    assert group(principal_dx="K92.200", procedures="99.0400").drg == "GS15"


def test_extension_codes_match_their_category_entries() -> None:
    g = group(principal_dx="K80.000x004", procedures="51.2300x001")
    assert (g.adrg, g.drg) == ("HC1", "HC15")


def test_group_many_keeps_order_and_agrees_with_group() -> None:
    batch = [
        rec(id="a", principal_dx="K35.800", procedures="47.0901"),
        rec(id="b", principal_dx="R50.900"),
        rec(id="c", principal_dx="J44.100", other_dx="I10.x00"),
    ]
    out = group_many(batch, TABLES)
    # I10.x00 is a CC of table T-CIRC, not excluded for a respiratory principal diagnosis
    assert [(g.record_id, g.drg) for g in out] == [("a", "GD15"), ("b", "0000"), ("c", "ET23")]
    assert out == [group_one(r, TABLES) for r in batch]


def test_group_many_leaves_the_garbage_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    group_many([rec(principal_dx="K35.800")], TABLES)
    assert gc.isenabled()
    gc.disable()
    try:
        group_many([rec(principal_dx="K35.800")], TABLES)
        assert not gc.isenabled()
    finally:
        gc.enable()

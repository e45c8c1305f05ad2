"""A discharge record is checked before grouping: malformed ICD codes and missing facts are
refused with a reason that names the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cityops.scenarios.medicare import icd, records
from tests.scenarios.medicare.drg_kit import rec


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("K35.800", "K35.800"),
        (" k80.000X004 ", "K80.000x004"),
        ("I10.X00", "I10.x00"),
        ("A17.000+G01*", "A17.000"),  # the dagger code is the one grouped
        ("X59.900", "X59.900"),  # chapter X keeps its capital
        ("K35", "K35"),
    ],
)
def test_well_formed_diagnoses_are_normalised(raw: str, code: str) -> None:
    assert icd.diagnosis(raw, field="principal_dx") == code


@pytest.mark.parametrize("raw", ["K3", "35.800", "K35.8OO", "K35.80000", "K35.800x1", "", None, 42])
def test_malformed_diagnoses_are_refused(raw: Any) -> None:
    with pytest.raises(icd.InvalidCode) as e:
        icd.diagnosis(raw, field="other_dx[1]")
    assert e.value.code == "invalid_icd"
    assert e.value.message.startswith("other_dx[1]: ")
    assert "is not an ICD-10 diagnosis code" in e.value.message


@pytest.mark.parametrize("raw", ["47.0901", "51.23", "43.7x00", "96.0800x005", "96.0800X005"])
def test_well_formed_procedures(raw: str) -> None:
    assert icd.procedure(raw, field="procedures[0]") == raw.replace("X", "x")


@pytest.mark.parametrize("raw", ["4709", "47.09011", "K35.800", "47,09"])
def test_malformed_procedures_are_refused(raw: str) -> None:
    with pytest.raises(icd.InvalidCode, match="is not an ICD-9-CM-3 procedure code"):
        icd.procedure(raw, field="procedures[0]")


def test_a_record_with_an_invalid_icd_code_is_refused_naming_the_field() -> None:
    with pytest.raises(icd.InvalidCode) as e:
        rec(principal_dx="K35.800", procedures="47.0901;4709")
    assert e.value.message.startswith("procedures[1]: '4709'")
    assert e.value.detail == {"field": "procedures[1]", "value": "4709"}


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"sex": 3}, "sex"),
        ({"sex": None}, "sex"),
        ({"age": ""}, "age"),
        ({"age": 0}, "age_days"),
        ({"age": 0, "age_days": 12}, "birth_weight_g"),
        ({"principal_dx": ""}, "principal_dx"),
        ({"cost_fen": "12.5"}, "cost_fen"),
    ],
)
def test_missing_or_impossible_facts_are_refused(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(records.InvalidRecord) as e:
        rec(**{"principal_dx": "K35.800", **kw})
    assert e.value.code == "invalid_record"
    assert e.value.detail["field"] == field


def test_csv_round_trip_and_refusals_with_their_line(tmp_path: Path) -> None:
    good = rec(id="a", principal_dx="K35.800", other_dx="E11.900;I10.x00", procedures="47.0901",
               cost_fen=900_000, hospital_level="三级")  # fmt: skip
    path = tmp_path / "d.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        records.write_csv([good], f)
    with path.open("a", encoding="utf-8") as f:
        f.write("b,H2,,1,50,,,K35.8OO,,,,,\n")
    back, bad = records.read_csv(path)
    assert back == [good]
    assert [(b.where, b.id, b.code) for b in bad] == [("d.csv:3", "b", "invalid_icd")]

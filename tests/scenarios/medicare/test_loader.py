"""Loading tables: the shipped synthetic set is complete; a bad row in real tables is reported
with its file and line and left out, never fatal; a missing file stops with a clear error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cityops.scenarios.medicare import dip, drg_loader
from cityops.scenarios.medicare.grouper import group
from tests.scenarios.medicare.drg_kit import rec


def test_the_shipped_tables_are_synthetic_and_load_clean() -> None:
    loaded = drg_loader.load()
    t = loaded.tables
    assert loaded.issues == []
    assert (t.version, t.synthetic) == ("synthetic-0.1", True)
    assert [m.code for m in t.order[:4]] == ["A", "P", "Y", "Z"]  # the fixed precedence
    assert all(code[3] in "1359" for code in t.drgs)
    for name in drg_loader.FILES:
        assert "SYNTHETIC" in (drg_loader.SHIPPED / f"{name}.csv").read_text(encoding="utf-8")


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    d = tmp_path / "tables"
    shutil.copytree(drg_loader.SHIPPED, d)
    return d


def _append(path: Path, *lines: str) -> int:
    """Append lines; return the line number of the first."""
    n = len(path.read_text(encoding="utf-8").splitlines())
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return n + 1


def test_bad_rows_are_reported_with_file_and_line_and_left_out(tables: Path) -> None:
    first = _append(
        tables / "drg.csv",
        "GD17,阑尾切除术，死亡,1.2,",  # 7 is not a split the tables use
        "GD19,阑尾切除术,abc,",
        "XX19,无此ADRG,1.0,",
        "GD13,重复,2.0,",
    )
    cc_line = _append(tables / "cc.csv", "K35.8OO,MCC,T-GI", "E11.900,XCC,T-END")
    adrg_line = _append(tables / "adrg.csv", "GD9,无规则,magic,1,,,")
    loaded = drg_loader.load(tables)
    got = [str(i) for i in loaded.issues]
    assert got == [
        f"adrg.csv:{adrg_line}: 'magic' is not a valid Rule; row left out",
        f"drg.csv:{first}: DRG 'GD17' is not 4 characters ending 1, 3, 5 or 9; row left out",
        f"drg.csv:{first + 1}: weight 'abc' is not a number; row left out",
        f"drg.csv:{first + 2}: DRG XX19: its ADRG XX1 is not in adrg.csv; row left out",
        f"drg.csv:{first + 3}: duplicate DRG GD13 (the first row is kept); row left out",
        f"cc.csv:{cc_line}: code: 'K35.8OO' is not an ICD-10 diagnosis code (like K35.800 or "
        "K80.000x004); row left out",
        f"cc.csv:{cc_line + 1}: level 'XCC' is not MCC or CC; row left out",
    ]
    # what loaded still groups
    g = group(rec(principal_dx="K35.800", procedures="47.0901", other_dx="E11.900"), loaded.tables)
    assert (g.drg, g.weight_e4) == ("GD13", 10_200)


def test_an_unknown_reference_is_reported(tables: Path) -> None:
    line = _append(tables / "adrg_codes.csv", "QQ1,dx,K35")
    issues = [str(i) for i in drg_loader.load(tables).issues]
    assert issues == [f"adrg_codes.csv:{line}: unknown 'QQ1'; row left out"]


def test_an_adrg_without_drg_is_reported(tables: Path) -> None:
    _append(tables / "adrg.csv", "GZ2,其他消化系统诊断2,dx,10,,,")
    issues = [str(i) for i in drg_loader.load(tables).issues]
    assert issues == ["drg.csv:0: ADRG GZ2 has no DRG: it groups to 0000"]


def test_a_missing_table_stops_loading(tables: Path) -> None:
    (tables / "cc.csv").unlink()
    with pytest.raises(drg_loader.TablesMissing, match=r"cc\.csv is missing"):
        drg_loader.load(tables)


def test_dip_catalogue_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "packets.csv"
    shutil.copy(dip.SHIPPED, path)
    line = _append(path, "X1,K35,47.0901,core,-1,100,负分值", "X2,K35,,weird,1,100,无此类")
    cat, issues = dip.load_catalogue(path)
    assert [str(i) for i in issues] == [
        f"packets.csv:{line}: points and avg_cost_fen must be positive; row left out",
        f"packets.csv:{line + 1}: 'weird' is not a valid Kind; row left out",
    ]
    assert ("K35", "47.0901") in cat.core

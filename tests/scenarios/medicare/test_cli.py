"""``cityops medicare generate`` then ``group``: the CMI table, the refused rows with their line,
and the per-record output with its trace."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from cityops.cli import app

runner = CliRunner()


def test_generate_then_group(tmp_path: Path) -> None:
    src, out = tmp_path / "month.csv", tmp_path / "groups.csv"
    r = runner.invoke(app, ["medicare", "generate", str(src), "--cases", "300", "--seed", "2"])
    assert r.exit_code == 0, r.output
    with src.open("a", encoding="utf-8") as f:
        f.write("x1,H9,三级,1,40,,,K35.8OO,,47.0901,,,100\n")
    r = runner.invoke(app, ["medicare", "group", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "month.csv:302: refused (invalid_icd): principal_dx: 'K35.8OO'" in r.output
    assert "300 records grouped" in r.output and "1 refused" in r.output
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 300
    grouped = next(row for row in rows if row["status"] == "grouped")
    assert grouped["trace"].startswith(f"MDC {grouped['mdc']}: ")


def test_tables_that_are_not_there(tmp_path: Path) -> None:
    src = tmp_path / "m.csv"
    src.write_text("id,sex,age,principal_dx\n1,1,40,K35.800\n", encoding="utf-8")
    r = runner.invoke(app, ["medicare", "group", str(src), "--tables", str(tmp_path / "none")])
    assert r.exit_code == 2
    assert "is missing" in r.output

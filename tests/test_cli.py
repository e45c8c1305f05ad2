"""The ``cityops`` command as an operator uses it: upgrade, import, KPIs, ledger checks, errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import shapely
from typer.testing import CliRunner

from cityops.cli import app
from tests import citykit

runner = CliRunner()


def _fc(rows: list[dict[str, object]]) -> dict[str, object]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(shapely.from_wkb(r["geometry"])),
                "properties": {
                    "code": r["code"],
                    "name": r["name"],
                    "level": str(r["level"].value),  # type: ignore[attr-defined]
                    "parent_code": r["parent_code"],
                },
            }
            for r in rows
        ],
    }


def test_upgrade_import_verify_tamper(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    r = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert r.exit_code == 0, r.output
    geojson = tmp_path / "map.geojson"
    geojson.write_text(json.dumps(_fc(citykit.map_rows())), encoding="utf-8")
    r = runner.invoke(app, ["import", "jurisdictions", str(geojson), "--database-url", url])
    assert r.exit_code == 0, r.output
    assert f"imported {len(citykit.map_rows())} jurisdictions" in r.output
    r = runner.invoke(app, ["ledger", "verify", "--database-url", url])
    assert r.exit_code == 0 and "ledger intact" in r.output
    # Tamper with the ledger behind the application's back.
    con = sqlite3.connect(tmp_path / "ops.db")
    n = con.execute("select count(*) from ledger_entry").fetchone()[0]
    assert n >= 1
    con.execute("update ledger_entry set payload = '{}' where seq = 1")
    con.commit()
    con.close()
    r = runner.invoke(app, ["ledger", "verify", "--database-url", url])
    assert r.exit_code == 1 and "broken at entry 1" in r.output


def test_import_refuses_bad_files_with_a_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json", encoding="utf-8")
    r = runner.invoke(app, ["import", "jurisdictions", str(bad), "--database-url", url])
    assert r.exit_code == 2 and "cannot read" in r.output
    rows = citykit.map_rows()
    rows[3]["code"] = "12"  # a street code must have 9 digits
    bad.write_text(json.dumps(_fc(rows)), encoding="utf-8")
    r = runner.invoke(app, ["import", "jurisdictions", str(bad), "--database-url", url])
    assert r.exit_code == 2 and "error" in r.output
    r = runner.invoke(
        app, ["import", "jurisdictions", str(tmp_path / "missing.geojson"), "--database-url", url]
    )
    assert r.exit_code == 2
    con = sqlite3.connect(tmp_path / "ops.db")
    assert (
        con.execute("select count(*) from jurisdiction").fetchone()[0] == 0
    )  # nothing half-written
    con.close()


def test_kpi_table_and_bad_arguments(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--database-url", url]).exit_code == 0
    r = runner.invoke(
        app,
        ["kpi", "--month", "2026-11", "--by", "street", "--database-url", url],
        terminal_width=200,
    )
    assert r.exit_code == 0 and "KPIs 2026-11 by street" in r.output and "结案率" in r.output
    r = runner.invoke(app, ["kpi", "--month", "2026-13", "--database-url", url])
    assert r.exit_code == 2 and "month" in r.output
    r = runner.invoke(app, ["kpi", "--by", "planet", "--database-url", url])
    assert r.exit_code == 2


def test_map_merge_rehomes_and_refuses_nonsense(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    geojson = tmp_path / "map.geojson"
    geojson.write_text(json.dumps(_fc(citykit.map_rows())), encoding="utf-8")
    assert (
        runner.invoke(
            app, ["import", "jurisdictions", str(geojson), "--database-url", url]
        ).exit_code
        == 0
    )
    args = [
        "map",
        "merge",
        "--sources",
        "500107,500157",
        "--target",
        "500199",
        "--name",
        "新区",
        "--effective",
        "2026-12-01",
        "--database-url",
        url,
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "merged into 500199" in r.output
    con = sqlite3.connect(tmp_path / "ops.db")
    retired = con.execute(
        "select count(*) from jurisdiction where code in ('500107','500157') "
        "and valid_to is not null and successor_code = '500199'"
    ).fetchone()[0]
    con.close()
    assert retired == 2
    r = runner.invoke(app, [*args[:-4], "--effective", "someday", "--database-url", url])
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
    r = runner.invoke(
        app,
        [
            "map",
            "merge",
            "--sources",
            "999999",
            "--target",
            "500198",
            "--name",
            "x",
            "--effective",
            "2026-12-01",
            "--database-url",
            url,
        ],
    )
    assert r.exit_code == 2 and "error" in r.output
    assert runner.invoke(app, ["ledger", "verify", "--database-url", url]).exit_code == 0


def test_check_config_reports_refused_entries(tmp_path: Path) -> None:
    r = runner.invoke(app, ["check-config"])
    assert r.exit_code == 0 and "categories" in r.output and "refused" not in r.output
    from importlib.resources import files

    text = (files("cityops.cases") / "data" / "categories.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "categories.yaml"
    broken.write_text(text.replace("time_limit: 4h", "time_limit: soon", 1), encoding="utf-8")
    r = runner.invoke(app, ["check-config", "--categories", str(broken)])
    assert r.exit_code == 1 and "refused" in r.output
    r = runner.invoke(app, ["check-config", "--categories", str(tmp_path / "none.yaml")])
    assert r.exit_code == 2

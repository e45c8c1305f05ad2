"""`cityops import hotline`: a 12345 export with good and bad rows, imported once, idempotently."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cityops.cases.hotline_sheet import load_mapping
from cityops.cases.models import Case, CaseReport, CaseStatus, Channel
from cityops.cli import app
from cityops.errors import ValidationFailed
from cityops.geo.coords import wgs84_to_gcj02
from tests import citykit

runner = CliRunner()
EXAMPLE = Path(__file__).parents[2] / "src/cityops/cases/data/hotline_mapping.example.yaml"
HEADER = [
    "工单编号",
    "来电时间",
    "诉求内容",
    "地址",
    "纬度",
    "经度",
    "问题分类",
    "来电人",
    "联系电话",
]
WEST = (29.503, 106.503)  # WGS84, in 九龙坡区街道1 of the test city
PHONE = "13800001234"


def _sheet(path: Path) -> None:
    glat_lng = wgs84_to_gcj02(WEST[1], WEST[0])
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    rows: list[list[object]] = [
        # 2: coordinates in GCJ-02, a category code, the caller's data
        ["A001", datetime(2026, 11, 20, 9, 30), "小区门口垃圾堆了三天", None,
         glat_lng[1], glat_lng[0], "06010", "张三", PHONE],
        # 3: an address only, a hotline category name from the mapping's table
        ["A002", "2026-11-20 10:15:00", "垃圾没人收", "九龙坡区街道2社区2门口",
         None, None, "垃圾堆放", None, None],
        # 4: a catalogue name, a street named in the address
        ["A003", "2026/11/20 22:05", "晚上广场舞太吵", "两江新区街道1广场", None, None,
         "噪声扰民", None, None],
        ["A004", "昨天下午", "路灯不亮", "九龙坡区街道1", None, None, "06010", None, None],
        ["A005", "2026-11-20 11:00:00", None, "九龙坡区街道1", None, None, "06010", None, None],
        ["A006", "2026-11-20 11:00:00", "河边有油", None, 30.9, 108.9, "06010", None, None],
        # 8: a category the mapping does not know: classified from the text (智能分类)
        ["A007", "2026-11-20 11:00:00", "外星人", "九龙坡区街道1", None, None, "外星人入侵",
         None, None],
        ["A001", "2026-11-20 12:00:00", "又打了一次", "九龙坡区街道1", None, None, "06010",
         None, None],
        ["A008", "2026-11-20 12:00:00", "井盖响", "社区1旁边", None, None, "06010", None, None],
        [None, None, None, None, None, None, None, None, None],  # trailing blank line
    ]  # fmt: skip
    for r in rows:
        ws.append(r)
    wb.save(path)


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def sheet(tmp_path: Path, city: citykit.SmallCity) -> Path:
    del city  # the map must be there
    path = tmp_path / "工单导出.xlsx"
    _sheet(path)
    return path


def test_import_good_rows_report_bad_ones_and_reimport_nothing(
    engine: Engine, session_factory: sessionmaker[Session], sheet: Path
) -> None:
    args = ["import", "hotline", str(sheet), "--mapping", str(EXAMPLE)]
    r = runner.invoke(app, [*args, "--database-url", _url(engine)])
    assert r.exit_code == 1, r.output
    assert "9 rows: 4 imported" in r.output and "5 refused" in r.output
    assert PHONE not in r.output and "张三" not in r.output
    errors_csv = sheet.with_name("工单导出.errors.csv")
    with errors_csv.open(encoding="utf-8-sig") as f:
        got = {(int(e["row"]), e["column"], e["code"]) for e in csv.DictReader(f)}
    assert got == {
        (5, "来电时间", "bad_time"),
        (6, "诉求内容", "missing_field"),
        (7, "纬度", "outside_city"),
        (9, "工单编号", "duplicate_id"),
        (10, "地址", "ambiguous_address"),
    }
    with session_factory() as s:
        reports = {
            r.external_ref: r
            for r in s.execute(select(CaseReport).order_by(CaseReport.id)).scalars()
        }
        assert set(reports) == {"12345:A001", "12345:A002", "12345:A003", "12345:A007"}
        # The call time (Asia/Shanghai) is kept on the report.
        assert reports["12345:A001"].reported_at == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
        first = s.get(Case, reports["12345:A001"].case_id)
        assert first is not None
        assert first.channel is Channel.hotline and first.status is CaseStatus.reported
        assert first.lat == pytest.approx(WEST[0], abs=1e-6)
        assert first.lng == pytest.approx(WEST[1], abs=1e-6)
        assert first.reporter_phone == PHONE and first.category_code == "06010"
        second = s.get(Case, reports["12345:A002"].case_id)
        assert second is not None and second.community_code == "500107002001"
        third = s.get(Case, reports["12345:A003"].case_id)
        assert third is not None and third.street_code == "500157001"
        assert third.category_code == "06028"
        # Nonsense text: filed under the model's unsure guess, held for a 受理员.
        guessed = s.get(Case, reports["12345:A007"].case_id)
        assert guessed is not None and guessed.needs_review
        assert guessed.status is CaseStatus.reported and guessed.classification is not None

    # The same file again: nothing new.
    out = sheet.parent / "again.csv"
    r = runner.invoke(app, [*args, "--errors", str(out), "--database-url", _url(engine)])
    assert r.exit_code == 1, r.output
    assert "0 imported" in r.output and "4 imported before" in r.output
    assert out.exists()
    with session_factory() as s:
        assert s.execute(select(func.count()).select_from(CaseReport)).scalar_one() == 4


def test_a_bad_mapping_is_refused_and_nothing_imported(
    engine: Engine, session_factory: sessionmaker[Session], sheet: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  external_id: 工单编号\n  description: 诉求内容\n", "utf-8")
    r = runner.invoke(
        app,
        ["import", "hotline", str(sheet), "--mapping", str(bad), "--database-url", _url(engine)],
    )
    assert r.exit_code == 2 and "received_at" in r.output, r.output
    # A mapped column that the sheet does not have.
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        EXAMPLE.read_text("utf-8").replace("诉求内容", "反映内容", 1), encoding="utf-8"
    )
    r = runner.invoke(
        app,
        ["import", "hotline", str(sheet), "--mapping", str(wrong), "--database-url", _url(engine)],
    )
    assert r.exit_code == 2 and "反映内容" in r.output, r.output
    # A category table naming a code the catalogue does not have.
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(EXAMPLE.read_text("utf-8").replace('"06028"', '"99999"'), encoding="utf-8")
    r = runner.invoke(
        app,
        [
            "import",
            "hotline",
            str(sheet),
            "--mapping",
            str(unknown),
            "--database-url",
            _url(engine),
        ],
    )
    assert r.exit_code == 2 and "99999" in r.output, r.output
    with session_factory() as s:
        assert s.execute(select(func.count()).select_from(CaseReport)).scalar_one() == 0


def test_mapping_validation_messages(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "columns: {external_id: a, received_at: b, description: c, lat: d}\n"
        "categories: {垃圾: '6010'}\ncrs: bd09\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationFailed) as exc:
        load_mapping(path)
    message = exc.value.message
    assert "lat and lng" in message and "5 digits" in message and "crs" in message
    assert load_mapping(EXAMPLE).columns.external_id == "工单编号"


def test_csv_exports_in_gb18030_are_read(
    engine: Engine, session_factory: sessionmaker[Session], city: citykit.SmallCity, tmp_path: Path
) -> None:
    del city
    path = tmp_path / "export.csv"
    text = ",".join(HEADER) + "\nB001,2026-11-21 08:00,垃圾桶满了,九龙坡区街道1,,,06010,,\n"
    path.write_bytes(text.encode("gb18030"))
    r = runner.invoke(
        app,
        ["import", "hotline", str(path), "--mapping", str(EXAMPLE), "--database-url", _url(engine)],
    )
    assert r.exit_code == 0, r.output
    with session_factory() as s:
        case = s.execute(select(Case)).scalar_one()
        assert case.street_code == "500107001" and case.address == "九龙坡区街道1"


def test_an_over_long_row_is_text_too_long_and_an_id_number_is_kept_encrypted(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path, city: citykit.SmallCity
) -> None:
    del city
    mapping = EXAMPLE.read_text(encoding="utf-8").replace(
        "  # caller_id_number: 身份证号", "  caller_id_number: 身份证号"
    )
    (tmp_path / "mapping.yaml").write_text(mapping, encoding="utf-8")
    path = tmp_path / "calls.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow([*HEADER, "身份证号"])
        w.writerow(["B1", "2026-11-20 09:30:00", "长" * 4001, "九龙坡区街道1", "", "", "06010",
                    "", "", ""])  # fmt: skip
        w.writerow(["B2", "2026-11-20 09:31:00", "垃圾", "九龙坡区街道1", "", "", "06010",
                    "张三", PHONE, "500107199001011234"])  # fmt: skip
    args = ["import", "hotline", str(path), "--mapping", str(tmp_path / "mapping.yaml")]
    r = runner.invoke(app, [*args, "--database-url", _url(engine)])
    assert r.exit_code == 1 and "1 imported" in r.output, r.output
    assert "500107199001011234" not in r.output
    with path.with_name("calls.errors.csv").open(encoding="utf-8-sig") as f:
        got = {(int(e["row"]), e["column"], e["code"]) for e in csv.DictReader(f)}
    assert got == {(2, "诉求内容", "text_too_long")}
    with session_factory() as s:
        case = s.execute(select(Case)).scalar_one()
        assert case.reporter_id_number == "500107199001011234"
        report = s.execute(select(CaseReport)).scalar_one()
        assert report.reporter_id_number == "500107199001011234"


def test_a_row_without_category_is_classified_from_its_text(
    engine: Engine, session_factory: sessionmaker[Session], city: citykit.SmallCity, tmp_path: Path
) -> None:
    del city
    path = tmp_path / "export.csv"
    rows = [
        "C001,2026-11-21 08:00,工地晚上12点了还在打桩，吵得睡不着,九龙坡区街道1,,,,,",
        "C002,2026-11-21 08:05,小区门口好多生活垃圾堆在地上没人收，臭得很,社区2门口,,,,,",
    ]
    path.write_text(",".join(HEADER) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    r = runner.invoke(
        app,
        ["import", "hotline", str(path), "--mapping", str(EXAMPLE), "--database-url", _url(engine)],
    )
    assert r.exit_code == 0, r.output
    with session_factory() as s:
        cases = {c.street_code: c for c in s.execute(select(Case)).scalars()}
        assert cases["500107001"].category_code == "08001"  # 施工扰民
        assert cases["500107002"].category_code == "06010"  # 暴露垃圾
        assert not cases["500107002"].needs_review
        assert cases["500107002"].classification is not None

"""The service under the routes: the batch limit, and tables chosen by settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cityops.errors import PayloadTooLarge
from cityops.scenarios.medicare import drg_loader, service
from cityops.settings import Settings

ROW = {"id": "1", "hospital": "H1", "sex": 1, "age": 40, "principal_dx": "K35.800"}


def test_a_batch_over_the_limit_is_refused_whole() -> None:
    settings = Settings(medicare_batch_max=2)
    assert service.group_batch(settings=settings, rows=[ROW, ROW]).cases == 2
    with pytest.raises(PayloadTooLarge) as e:
        service.group_batch(settings=settings, rows=[ROW] * 3)
    assert (e.value.status, e.value.code) == (413, "batch_too_large")


def test_tables_come_from_the_configured_directory(tmp_path: Path) -> None:
    d = tmp_path / "real"
    shutil.copytree(drg_loader.SHIPPED, d)
    (d / "meta.csv").write_text("key,value\nversion,cq-test\nsynthetic,false\n", encoding="utf-8")
    out = service.group_one(settings=Settings(medicare_drg_tables=d), body=ROW)
    assert (out.drg, out.tables, out.synthetic) == ("GZ15", "cq-test", False)
    assert service.group_one(settings=Settings(), body=ROW).tables == "synthetic-0.1"

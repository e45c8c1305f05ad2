"""Each step that adds photos says which in its history entry: the apps show the report's
photos (处置前) beside the worker's after-photos (处置后) from it."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.citykit import X0, Y0
from tests.photos.images import jpeg, png, uploaded_ref


def _post(api: Api, who: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = api.client.post(path, headers=api.headers(who), json=body)
    assert r.status_code in (200, 201), r.text
    out: dict[str, Any] = r.json()
    return out


def test_history_tells_the_report_photos_from_the_after_photos(api: Api) -> None:
    before = uploaded_ref(api, jpeg(), who="resident")
    case = _post(
        api,
        "resident",
        "/api/v1/cases",
        {
            "category": "06010",
            "channel": "resident",
            "description": "楼下一堆垃圾",
            "location": {"lat": Y0 + 0.001, "lng": X0 + 0.002},
            "photos": [before],
        },
    )["case"]
    steps = f"/api/v1/cases/{case['id']}/transitions"
    _post(api, "worker", steps, {"action": "start"})
    after = uploaded_ref(api, png(), who="worker")
    _post(api, "worker", steps, {"action": "feedback", "photos": [after], "reason": "已清运"})
    for who in ("inspector", "resident"):
        detail = api.client.get(f"/api/v1/cases/{case['id']}", headers=api.headers(who)).json()
        assert detail["photos"] == [before, after]
        added = {h["action"]: h["payload"].get("photos") for h in detail["history"]}
        assert added["report"] == [before], who
        assert added["feedback"] == [after], who
        assert added["start"] is None

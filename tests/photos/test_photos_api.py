"""Photos as the apps use them: upload, fetch back by URL in an <img>, attach to a case."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from cityops.photos import formats
from tests.api.conftest import Api
from tests.citykit import X0, Y0
from tests.photos.images import jpeg, png, upload, uploaded_ref, webp

WEST = {"lat": Y0 + 0.002, "lng": X0 + 0.002}


def stored_files(api: Api) -> list[Path]:
    root = api.ctx.settings.photo_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize(
    ("data", "kind", "ext"),
    [(jpeg(), "image/jpeg", "jpg"), (png(), "image/png", "png"), (webp(), "image/webp", "webp")],
)
def test_an_uploaded_photo_comes_back_byte_for_byte_without_a_token(
    api: Api, data: bytes, kind: str, ext: str
) -> None:
    # The declared type is ignored: the content decides.
    r = upload(api, data, filename="x.bin", content_type="application/octet-stream")
    assert r.status_code == 201, r.text
    body = r.json()
    sha = hashlib.sha256(data).hexdigest()
    assert body == {
        "ref": f"photo:{sha}.{ext}",
        "url": f"/api/v1/photos/{sha}.{ext}",
        "bytes": len(data),
        "type": kind,
    }
    got = api.client.get(body["url"])  # an <img> sends no Authorization header
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == kind
    assert "immutable" in got.headers["cache-control"]
    assert got.headers["x-content-type-options"] == "nosniff"
    # The same bytes again are the same photo, stored once.
    assert upload(api, data, who="worker").json()["ref"] == body["ref"]
    assert len(stored_files(api)) == 1


def test_anything_but_a_jpeg_png_or_webp_is_refused_whatever_it_is_called(api: Api) -> None:
    for data in (b"hello, I am text\n" * 10, b"GIF89a" + b"\x00" * 50, b"<svg></svg>", b"\xff"):
        r = upload(api, data, filename="cat.jpg", content_type="image/jpeg")
        assert r.status_code == 415, r.text
        assert r.json()["error"]["code"] == "unsupported_photo_type"
    r = upload(api, b"")
    assert r.status_code == 400 and r.json()["error"]["code"] == "empty_photo"
    r = api.client.post("/api/v1/photos", headers=api.headers("resident"), data={"x": "1"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "missing_field"
    r = upload(api, jpeg(), who=None)
    assert r.status_code == 401
    assert stored_files(api) == []


def test_a_photo_over_the_size_limit_is_413_and_leaves_no_file(api: Api) -> None:
    api.ctx.settings.photo_max_bytes = 1000
    assert upload(api, jpeg(size=1000)).status_code == 201  # the limit itself is allowed
    kept = stored_files(api)
    r = upload(api, jpeg(size=1001, seed=1))
    assert r.status_code == 413 and r.json()["error"]["code"] == "photo_too_large"
    # Far over: refused on the declared length, before the body is read.
    r = upload(api, jpeg(size=200_000, seed=2))
    assert r.status_code == 413 and r.json()["error"]["code"] == "photo_too_large"
    assert stored_files(api) == kept


def test_a_chunked_upload_without_a_length_is_cut_off_at_the_limit(api: Api) -> None:
    api.ctx.settings.photo_max_bytes = 1000
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode()
        + jpeg(size=300_000)
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    r = api.client.post(
        "/api/v1/photos",
        headers={
            **api.headers("resident"),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        content=chunks(),
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "photo_too_large"
    assert stored_files(api) == []


def test_only_well_formed_photo_names_are_served(api: Api, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("do not serve")
    ref = uploaded_ref(api, jpeg())
    name = ref.removeprefix(formats.REF_PREFIX)
    sha = name.split(".")[0]
    # A name that reaches the route but is not <sha256>.<ext> is 400; a path the client or the
    # router resolves elsewhere is 404. Never the file.
    either = {400, 404}
    refused = {
        "..": either,
        "%2e%2e": either,
        "..%2F..%2Fsecret.txt": either,
        "..%2f..%2f..%2fetc%2fpasswd": either,
        "%2e%2e%2f%2e%2e%2fsecret.txt": either,
        "secret.txt": {400},
        f"{sha.upper()}.jpg": {400},  # only lower-case hex
        f"{sha}.jpeg": {400},
        f"{sha}.jpg%0a": {400},
        f"{sha}.jpg%00": {400},
        f"{sha[:-1]}.jpg": {400},
        f"{sha}.png": {404},  # well formed, not stored
    }
    for bad, statuses in refused.items():
        r = api.client.get(f"/api/v1/photos/{bad}")
        assert r.status_code in statuses, (bad, r.status_code, r.text)
        assert "do not serve" not in r.text
        if r.status_code == 400:
            assert r.json()["error"]["code"] == "bad_photo_name"
    assert api.client.get(f"/api/v1/photos/{name}").status_code == 200


def test_a_case_may_carry_only_photos_that_were_uploaded(api: Api) -> None:
    good = uploaded_ref(api, jpeg(), who="inspector")
    missing = "photo:" + "0" * 64 + ".jpg"
    body = {
        "category": "06010",
        "channel": "inspector",
        "location": WEST,
        "description": "一堆垃圾",
    }
    h = api.headers("inspector")
    for bad in (missing, "photo:../../etc/passwd", good.replace(".jpg", ".png")):
        r = api.client.post("/api/v1/cases", headers=h, json={**body, "photos": [good, bad]})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "unknown_photo"
    # In a batch the one report is refused, the others taken.
    r = api.client.post(
        "/api/v1/cases/batch",
        headers=api.headers("dispatcher"),
        json={"reports": [{**body, "channel": "video", "photos": [missing]}]},
    )
    assert r.status_code == 200 and r.json()[0]["error"]["code"] == "unknown_photo"
    # An uploaded photo and a URL kept elsewhere are both fine.
    r = api.client.post(
        "/api/v1/cases", headers=h, json={**body, "photos": [good, "https://cdn.example/p.jpg"]}
    )
    assert r.status_code == 201, r.text
    case = r.json()["case"]
    assert case["photos"] == [good, "https://cdn.example/p.jpg"]
    # A transition's photos are checked the same way, and a refused one changes nothing.
    path = f"/api/v1/cases/{case['id']}/transitions"
    r = api.client.post(
        path, headers=api.headers("worker"), json={"action": "feedback", "photos": [missing]}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_photo"
    after = uploaded_ref(api, png(), who="worker")
    r = api.client.post(
        path, headers=api.headers("worker"), json={"action": "feedback", "photos": [after]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "handled"
    assert r.json()["photos"] == [good, "https://cdn.example/p.jpg", after]

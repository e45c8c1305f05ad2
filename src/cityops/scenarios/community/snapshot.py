"""Demo camera frames and signed links that open them in one click.

Pure: no database, no clock (the caller passes the time). A camera list entry must open in a new
browser tab, which sends no ``Authorization`` header, so the snapshot and live URLs carry their
own proof instead: ``?exp=<unix seconds>&sig=<HMAC-SHA256(secret, "camera:<id>:<exp>")>``. Only
someone who could read the camera list (which checks the jurisdiction) gets a link, and a link
stops working at ``exp``. The frame itself is a generated SVG "video still" with the camera's
name and the time, so the demo needs no external stream.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from datetime import datetime
from html import escape
from urllib.parse import urlencode

from cityops.errors import Forbidden

LINK_TTL_S = 12 * 3600
PREFIX = "/api/v1/community/cameras"


def snapshot_path(camera_id: int) -> str:
    return f"{PREFIX}/{camera_id}/snapshot.svg"


def live_path(camera_id: int) -> str:
    return f"{PREFIX}/{camera_id}/live"


def _mac(secret: str, camera_id: int, exp: int) -> str:
    msg = f"camera:{camera_id}:{exp}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()[:32]


def expiry(now_s: int, ttl_s: int = LINK_TTL_S) -> int:
    """Links end on the hour after ``ttl_s``, so a list read twice in an hour gives one URL."""
    return (now_s + ttl_s) // 3600 * 3600 + 3600


def sign(url: str, *, secret: str, camera_id: int, exp: int) -> str:
    """``url`` with the query that lets it open without a login (ours only; others unchanged)."""
    if not url.startswith(f"{PREFIX}/{camera_id}/"):
        return url
    return f"{url}?{urlencode({'exp': exp, 'sig': _mac(secret, camera_id, exp)})}"


def check(*, secret: str, camera_id: int, exp: int | None, sig: str | None, now_s: int) -> None:
    """Raise Forbidden unless the link was signed for this camera and has not expired."""
    if exp is None or not sig or not hmac.compare_digest(sig, _mac(secret, camera_id, exp)):
        raise Forbidden("this camera link is not valid; open it from the camera list",
                        code="bad_camera_link")  # fmt: skip
    if now_s >= exp:
        raise Forbidden("this camera link has expired; open it again from the camera list",
                        code="camera_link_expired")  # fmt: skip


def frame_svg(*, camera_id: int, name: str, online: bool, at: datetime) -> str:
    """A 640×360 still: a street scene drawn from the camera id, the name and the local time."""
    rng = random.Random(f"camera-frame:{camera_id}")
    stamp = at.strftime("%Y-%m-%d %H:%M:%S")
    title = escape(name)
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360" viewBox="0 0 640 360">',
        '<rect width="640" height="360" fill="#1b2430"/>',
    ]
    if online:
        horizon = rng.randint(130, 170)
        parts.append(f'<rect y="{horizon}" width="640" height="{360 - horizon}" fill="#39424e"/>')
        x = 0
        while x < 640:  # buildings along the street
            w, h = rng.randint(50, 110), rng.randint(60, horizon + 20)
            shade = rng.choice(["#5b6b7c", "#6f7f8f", "#4d5a68", "#8a8f94"])
            parts.append(
                f'<rect x="{x}" y="{horizon - h}" width="{w}" height="{h}" fill="{shade}"/>'
            )
            for wy in range(horizon - h + 8, horizon - 10, 16):
                for wx in range(x + 6, x + w - 10, 14):
                    if rng.random() < 0.35:
                        parts.append(
                            f'<rect x="{wx}" y="{wy}" width="6" height="8" fill="#e8d27a"/>'
                        )
            x += w + rng.randint(4, 20)
        parts.append(
            f'<polygon points="250,{horizon} 390,{horizon} 600,360 40,360" fill="#2b3038"/>'
        )
        for k in range(5):  # lane marks
            y = horizon + 20 + k * 40
            parts.append(f'<rect x="316" y="{y}" width="8" height="20" fill="#d8d8d8"/>')
        status = '<circle cx="604" cy="24" r="6" fill="#e53935"/>'
        status += '<text x="570" y="29" fill="#fff" font-size="14">REC</text>'
    else:
        parts.append(
            '<text x="320" y="190" fill="#bbb" font-size="28" text-anchor="middle">'
            "信号中断 NO SIGNAL</text>"
        )
        status = '<text x="540" y="29" fill="#e53935" font-size="14">OFFLINE</text>'
    parts += [
        '<rect width="640" height="40" fill="#000" fill-opacity="0.55"/>',
        f'<text x="12" y="27" fill="#fff" font-size="16" font-family="monospace">{title}</text>',
        status,
        '<rect y="328" width="640" height="32" fill="#000" fill-opacity="0.55"/>',
        f'<text x="12" y="350" fill="#fff" font-size="16" font-family="monospace">{stamp}</text>',
        f'<text x="628" y="350" fill="#9fb" font-size="12" text-anchor="end">CAM-{camera_id:04d}'
        "</text>",
        "</svg>",
    ]
    return "".join(parts)


def live_html(*, name: str, snapshot_url: str) -> str:
    """A page that shows the snapshot and fetches it again every second (a simple live view)."""
    title = escape(name)
    src = escape(snapshot_url, quote=True)
    joiner = "&" if "?" in snapshot_url else "?"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title} · 实时画面</title>
<style>body{{margin:0;background:#0b0f14;color:#ddd;font-family:sans-serif;text-align:center}}
img{{max-width:100vw;max-height:92vh}}</style></head>
<body><div>{title}</div><img id="frame" src="{src}" alt="{title}">
<script>
const base = {json.dumps(snapshot_url)};
setInterval(() => {{
  document.getElementById("frame").src = base + "{joiner}t=" + Date.now();
}}, 1000);
</script></body></html>
"""

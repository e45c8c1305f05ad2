"""RFC 6902 JSON Patch (as ``frost-sta-client`` sends for PATCH) turned into a merge body.

Only what changes entity properties is taken: ``add``/``replace``/``remove`` on ``/name`` or
one level into an object property (``/properties/owner``).
"""

from __future__ import annotations

import copy
from typing import Any

from cityops.errors import ValidationFailed


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def apply_json_patch(current: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    for op in ops:
        if not isinstance(op, dict) or op.get("op") not in {"add", "replace", "remove"}:
            raise ValidationFailed("JSON Patch: only add, replace and remove are supported")
        path = op.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValidationFailed("JSON Patch: path must start with '/'")
        parts = [_unescape(p) for p in path[1:].split("/")]
        if len(parts) > 2 or parts[0].startswith("@iot."):
            raise ValidationFailed(f"JSON Patch: cannot change {path!r}")
        value = op.get("value")
        if len(parts) == 1:
            changed[parts[0]] = None if op["op"] == "remove" else value
            continue
        name, member = parts
        base = changed.get(name, copy.deepcopy(current.get(name)))
        if not isinstance(base, dict):
            base = {}
        if op["op"] == "remove":
            base.pop(member, None)
        else:
            base[member] = value
        changed[name] = base
    return changed

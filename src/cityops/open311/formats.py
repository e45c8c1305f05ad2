"""The GeoReport v2 wire formats: XML (required by the spec) and JSON (its mechanical mapping).

Pure functions from plain dicts and lists to bytes. XML is schemaless with the spec's element
names: a list under key ``attributes`` becomes ``<attributes><attribute>…</attribute>…``; JSON
list responses are top-level arrays. Errors are ``<errors><error><code/><description/>`` or
``[{"code": 404, "description": "…"}]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from xml.etree import ElementTree as ET

Fmt = Literal["xml", "json"]
FORMATS: tuple[Fmt, ...] = ("xml", "json")
MEDIA = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
# The element each list's items take in XML.
ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(parent: ET.Element, name: str, value: Any) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _fill(node, key, inner)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        item = ITEM.get(name, "item")
        for inner in value:
            _fill(node, item, inner)
    else:
        node.text = _text(value)


def to_xml(root: str, body: Mapping[str, Any] | Sequence[Any]) -> bytes:
    """``body`` under ``<root>``: a mapping's keys as children, a list's items as ITEM[root]."""
    holder = ET.Element("holder")
    _fill(holder, root, body)
    top = holder[0]
    ET.indent(top)
    return bytes(ET.tostring(top, encoding="utf-8", xml_declaration=True)) + b"\n"


def to_json(body: Mapping[str, Any] | Sequence[Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def render(fmt: Fmt, root: str, body: Mapping[str, Any] | Sequence[Any]) -> bytes:
    return to_xml(root, body) if fmt == "xml" else to_json(body)


def error_body(fmt: Fmt, status: int, description: str) -> bytes:
    """The spec's error list with one error whose code is the HTTP status."""
    return render(fmt, "errors", [{"code": status, "description": description}])

"""Code formats of the settlement list (医保结算清单): ICD-10 diagnoses, ICD-9-CM-3 procedures.

Format only: whether a code is in a grouper's code set is the tables' business (an unknown but
well-formed code groups to 0000 with a reason; a malformed one is refused). Diagnoses look like
``K35.800``, ``K80.000x004`` (category . up to 3 digits, optional ``x`` + 3-digit extension) or a
dagger/asterisk pair ``A17.000+G01*``, or ``I10.x00``; procedures like ``47.0901``, ``43.7x00``,
``96.0800x005``.
"""

from __future__ import annotations

import re

from cityops.errors import CityOpsError

_SUB = r"\.(?:[0-9]{1,4}|[0-9]?x[0-9]{2})(?:x[0-9]{3})?"  # .800 .x00 .7x00, then x004
_DX = rf"[A-Z][0-9]{{2}}(?:{_SUB})?"
DIAGNOSIS = re.compile(rf"^({_DX})(?:\+({_DX})\*)?$")
_EXT = re.compile(r"(?<=[0-9.])X")  # the x in a code is lower case; chapter X (X59) is not
PROCEDURE = re.compile(rf"^[0-9]{{2}}(?:{_SUB})?$")


class InvalidCode(CityOpsError):
    """A code on a discharge record is not a well-formed ICD code: the record is refused."""

    status = 422
    code = "invalid_icd"


def diagnosis(raw: object, *, field: str) -> str:
    """The lookup code of a diagnosis (the dagger part of a pair), or InvalidCode with why."""
    text = _EXT.sub("x", raw.strip().upper()) if isinstance(raw, str) else ""
    m = DIAGNOSIS.match(text) if text else None
    if m is None:
        raise InvalidCode(
            f"{field}: {raw!r} is not an ICD-10 diagnosis code (like K35.800 or K80.000x004)",
            field=field,
            value=str(raw),
        )
    return m.group(1)


def procedure(raw: object, *, field: str) -> str:
    """A normalised procedure code, or InvalidCode with why."""
    text = _EXT.sub("x", raw.strip().upper()) if isinstance(raw, str) else ""
    if not text or PROCEDURE.match(text) is None:
        raise InvalidCode(
            f"{field}: {raw!r} is not an ICD-9-CM-3 procedure code (like 47.0901 or 96.0800x005)",
            field=field,
            value=str(raw),
        )
    return text

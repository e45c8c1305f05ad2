"""Load CHS-DRG tables from a directory of CSV files; a bad row is reported (file:line), not fatal.

Layout (UTF-8, a header row, ``#`` lines are comments; docs/medicare.md has the details):

- ``meta.csv``  key,value — ``version``, ``synthetic`` (true/false), ``source``
- ``mdc.csv``   mdc,name,order,special,sex — special: pre/newborn/hiv/trauma or empty; sex 1/2
- ``mdc_dx.csv``  mdc,code,region — principal diagnoses of an MDC; region only for trauma
- ``adrg.csv``  adrg,name,rule,order,min_vent_hours,bw_min_g,bw_max_g — the MDC is adrg[0]
- ``adrg_codes.csv``  adrg,list,code — list: dx, proc or proc2
- ``drg.csv``   drg,name,weight,avg_cost_fen — weight = RW with up to 4 decimals
- ``cc.csv``    code,level,exclusion — level MCC or CC; exclusion = its CCE table id
- ``cce.csv``   code,exclusion — a principal diagnosis and an exclusion table it excludes
- ``or_proc.csv``  code — operating-room procedures (OR procedure unrelated to the MDC → QY)
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from cityops.errors import CityOpsError
from cityops.scenarios.medicare import icd
from cityops.scenarios.medicare.drg_tables import (
    ADRG_CODE,
    DRG_CODE,
    Adrg,
    CcEntry,
    Drg,
    DrgTables,
    Mdc,
    Rule,
    Special,
)

SHIPPED = Path(__file__).resolve().parent / "data" / "drg"
FILES = ("mdc", "mdc_dx", "adrg", "adrg_codes", "drg", "cc", "cce", "or_proc")


class TablesMissing(CityOpsError):
    """A required table file is absent or has no header: nothing can be grouped."""

    status = 422
    code = "drg_tables_missing"


@dataclass(frozen=True, slots=True)
class LoadIssue:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Loaded:
    tables: DrgTables
    issues: list[LoadIssue]


def table_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise TablesMissing(f"DRG table {path} is missing", path=str(path))
    with path.open(encoding="utf-8-sig", newline="") as f:
        header: list[str] | None = None
        for n, line in enumerate(f, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cells = [c.strip() for c in next(csv.reader([line]))]
            if header is None:
                header = cells
                continue
            yield n, dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=False))
    if header is None:
        raise TablesMissing(f"DRG table {path} has no header row", path=str(path))


def _opt_int(raw: str, name: str) -> int | None:
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} {raw!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{name} {value} is negative")
    return value


def _weight_e4(raw: str) -> int:
    try:
        w = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"weight {raw!r} is not a number") from None
    if not w.is_finite() or w <= 0 or (w * 10_000) % 1 != 0:
        raise ValueError(f"weight {raw!r} must be positive with at most 4 decimals")
    return int(w * 10_000)


def _dx(raw: str) -> str:
    try:
        return icd.diagnosis(raw, field="code")
    except CityOpsError as exc:
        raise ValueError(exc.message) from None


def _proc(raw: str) -> str:
    try:
        return icd.procedure(raw, field="code")
    except CityOpsError as exc:
        raise ValueError(exc.message) from None


class _Reader:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.issues: list[LoadIssue] = []

    def each(self, name: str, handle: Callable[[dict[str, str]], None]) -> None:
        for n, row in table_rows(self.dir / f"{name}.csv"):
            try:
                handle(row)
            except (ValueError, KeyError) as exc:
                msg = f"unknown {exc}" if isinstance(exc, KeyError) else str(exc)
                self.issues.append(LoadIssue(f"{name}.csv", n, f"{msg}; row left out"))


def load(directory: Path = SHIPPED) -> Loaded:
    """Read every table; rows that do not parse or refer to nothing are reported and left out."""
    r = _Reader(directory)
    meta: dict[str, str] = {}
    if (directory / "meta.csv").is_file():
        r.each("meta", lambda row: meta.__setitem__(row["key"], row["value"]))
    mdcs: dict[str, Mdc] = {}

    def mdc(row: dict[str, str]) -> None:
        code = row["mdc"].upper()
        if len(code) != 1 or not code.isalpha():
            raise ValueError(f"MDC {code!r} is not one letter")
        sex = _opt_int(row.get("sex", ""), "sex")
        if sex not in (None, 1, 2):
            raise ValueError(f"sex {sex} is not 1 or 2")
        order = _opt_int(row["order"], "order")
        mdcs[code] = Mdc(code, row["name"], order or 0, Special(row.get("special", "")), sex)

    r.each("mdc", mdc)
    dx_mdc: dict[str, list[str]] = {}
    region: dict[str, str] = {}

    def mdc_dx(row: dict[str, str]) -> None:
        m = mdcs[row["mdc"].upper()]
        code = _dx(row["code"])
        dx_mdc.setdefault(code, []).append(m.code)
        if m.special == Special.trauma:
            if not row.get("region"):
                raise ValueError(f"trauma diagnosis {code} needs a body region")
            region[code] = row["region"]

    r.each("mdc_dx", mdc_dx)
    adrg_rows: dict[str, dict[str, object]] = {}

    def adrg(row: dict[str, str]) -> None:
        code = row["adrg"].upper()
        if not ADRG_CODE.match(code) or code[0] not in mdcs:
            raise ValueError(
                f"ADRG {code!r} is not <MDC letter><type letter><digit> of a known MDC"
            )
        if code in adrg_rows:
            raise ValueError(f"duplicate ADRG {code} (the first row is kept)")
        adrg_rows[code] = {
            "code": code, "mdc": code[0], "name": row["name"], "rule": Rule(row["rule"]),
            "order": _opt_int(row.get("order", ""), "order") or 0,
            "min_vent_hours": _opt_int(row.get("min_vent_hours", ""), "min_vent_hours") or 0,
            "bw_min_g": _opt_int(row.get("bw_min_g", ""), "bw_min_g"),
            "bw_max_g": _opt_int(row.get("bw_max_g", ""), "bw_max_g"),
            "dx": set(), "proc": set(), "proc2": set(),
        }  # fmt: skip

    r.each("adrg", adrg)

    def adrg_code(row: dict[str, str]) -> None:
        a = adrg_rows[row["adrg"].upper()]
        kind = row["list"]
        if kind not in ("dx", "proc", "proc2"):
            raise ValueError(f"list {kind!r} is not dx, proc or proc2")
        target = a[kind]
        assert isinstance(target, set)
        target.add(_dx(row["code"]) if kind == "dx" else _proc(row["code"]))

    r.each("adrg_codes", adrg_code)
    adrgs = {
        c: Adrg(**{k: frozenset(v) if isinstance(v, set) else v for k, v in a.items()})  # type: ignore[arg-type]
        for c, a in adrg_rows.items()
    }
    drgs: dict[str, Drg] = {}

    def drg(row: dict[str, str]) -> None:
        code = row["drg"].upper()
        if not DRG_CODE.match(code):
            raise ValueError(f"DRG {code!r} is not 4 characters ending 1, 3, 5 or 9")
        if code[:3] not in adrgs:
            raise ValueError(f"DRG {code}: its ADRG {code[:3]} is not in adrg.csv")
        if code in drgs:
            raise ValueError(f"duplicate DRG {code} (the first row is kept)")
        avg = _opt_int(row.get("avg_cost_fen", ""), "avg_cost_fen")
        drgs[code] = Drg(code, row["name"], _weight_e4(row["weight"]), avg)

    r.each("drg", drg)
    cc: dict[str, CcEntry] = {}

    def cc_row(row: dict[str, str]) -> None:
        level = row["level"].upper()
        if level not in ("MCC", "CC"):
            raise ValueError(f"level {level!r} is not MCC or CC")
        cc[_dx(row["code"])] = CcEntry(level, row["exclusion"])

    r.each("cc", cc_row)
    cce: dict[str, set[str]] = {}
    r.each("cce", lambda row: cce.setdefault(_dx(row["code"]), set()).add(row["exclusion"]))
    or_procs: set[str] = set()
    r.each("or_proc", lambda row: or_procs.add(_proc(row["code"])))
    for code in sorted(adrgs):
        splits = {d[3] for d in drgs if d.startswith(code)}
        if not splits:
            r.issues.append(LoadIssue("drg.csv", 0, f"ADRG {code} has no DRG: it groups to 0000"))
        elif "9" in splits and len(splits) > 1:
            r.issues.append(LoadIssue("drg.csv", 0, f"ADRG {code} mixes 9 with a split"))
    tables = DrgTables(
        version=meta.get("version", directory.name),
        synthetic=meta.get("synthetic", "").lower() == "true",
        mdcs=mdcs,
        dx_mdc={k: tuple(v) for k, v in dx_mdc.items()},
        trauma_region=region,
        adrgs=adrgs,
        drgs=drgs,
        cc=cc,
        cce={k: frozenset(v) for k, v in cce.items()},
        or_procs=frozenset(or_procs),
    )
    return Loaded(tables, r.issues)

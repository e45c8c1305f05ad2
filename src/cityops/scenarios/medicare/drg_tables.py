"""CHS-DRG grouping tables as validated data, compiled into dict lookups (reference §1.2–1.3).

A DRG code has 4 characters: the MDC letter, the ADRG type (A–J surgical 外科手术, K–Q non-OR
procedure 非手术室操作, R–Z medical 内科), a sequence digit (the first 3 = the ADRG), and the
split: 1 with MCC, 3 with CC, 5 without, 9 not split. A code in a table list matches itself
and the codes it is a prefix of at the usual boundaries: ``K35`` matches ``K35.800``, ``K35.8``
matches ``K35.800``; ``K80.000`` matches ``K80.000x004``; ``47.09`` matches ``47.0901``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

DRG_CODE = re.compile(r"^[A-Z][A-Z][0-9][1359]$")
ADRG_CODE = re.compile(r"^[A-Z][A-Z][0-9]$")
UNGROUPABLE = "0000"  # 无法入组
AMBIGUOUS = "QY"  # 歧义组: <MDC>QY, an OR procedure unrelated to the MDC
# Codes whose lookup keys are remembered: about the size of the real code sets (≈33k diagnoses,
# ≈14k procedures) with room, and a bound so made-up codes sent to the API cannot grow it.
KEYS_KEPT = 200_000


class Special(enum.StrEnum):
    """How an MDC is entered before the principal-diagnosis MDCs (fixed precedence)."""

    none = ""
    pre = "pre"  # MDCA 先期分组: an ADRG rule of the MDC matches (transplants, ventilation ≥ 96 h)
    newborn = "newborn"  # MDCP: age < 29 days, or < 1 year with a neonatal principal diagnosis
    hiv = "hiv"  # MDCY: HIV as principal or other diagnosis
    trauma = "trauma"  # MDCZ: severe trauma in ≥ 2 body regions


class Kind(enum.StrEnum):
    surgical = "surgical"  # A–J
    nonor = "nonor"  # K–Q
    medical = "medical"  # R–Z


KIND_ORDER = {Kind.surgical: 0, Kind.nonor: 1, Kind.medical: 2}


def kind_of_letter(letter: str) -> Kind:
    """The ADRG type its second character says."""
    if "A" <= letter <= "J":
        return Kind.surgical
    return Kind.nonor if "K" <= letter <= "Q" else Kind.medical


class Rule(enum.StrEnum):
    """What an ADRG's entry condition reads."""

    dx = "dx"  # principal diagnosis in the ADRG's diagnosis list
    proc = "proc"  # principal procedure in the procedure list
    any_proc = "any_proc"  # any procedure in the procedure list
    dx_proc = "dx_proc"  # principal diagnosis in the list and any procedure in the list
    proc_pair = "proc_pair"  # one procedure from list 1 and one from list 2 (e.g. 联合移植)
    vent = "vent"  # invasive ventilation ≥ min_vent_hours (and a listed procedure, if listed)


@dataclass(frozen=True, slots=True)
class Mdc:
    code: str  # the letter
    name: str
    order: int
    special: Special = Special.none
    sex: int | None = None  # MDCM male / MDCN female genital organs


@dataclass(frozen=True, slots=True)
class Adrg:
    code: str
    mdc: str
    name: str
    rule: Rule
    order: int
    dx: frozenset[str] = frozenset()
    proc: frozenset[str] = frozenset()
    proc2: frozenset[str] = frozenset()
    min_vent_hours: int = 0
    bw_min_g: int | None = None  # newborn birth-weight splits (2.0: PS1 < 1500 g …)
    bw_max_g: int | None = None

    @property
    def kind(self) -> Kind:
        return kind_of_letter(self.code[1])


@dataclass(frozen=True, slots=True)
class Drg:
    code: str
    name: str
    weight_e4: int  # relative weight RW × 10,000 (integers keep CMI and money exact)
    avg_cost_fen: int | None = None  # historical average cost, for the outlier rules

    @property
    def adrg(self) -> str:
        return self.code[:3]


@dataclass(frozen=True, slots=True)
class CcEntry:
    level: str  # "MCC" or "CC"
    exclusion: str  # the exclusion table (CCE) it belongs to


def _base(code: str) -> str:
    """The code without an extension ``x`` + 3 digits (``K80.000x004`` → ``K80.000``)."""
    if len(code) > 6 and code[-4] == "x" and code[-3:].isdigit():
        return code[:-4]
    return code


def _keys(code: str, prefixes: tuple[int, ...]) -> tuple[str, ...]:
    base = _base(code)
    keys = [code]
    if base != code:
        keys.append(base)
    keys.extend(base[:n] for n in prefixes if len(base) > n)
    return tuple(keys)


def diagnosis_keys(code: str) -> tuple[str, ...]:
    """The code and the prefixes a table entry may use for it, most specific first."""
    return _keys(code, (5, 3))


def procedure_keys(code: str) -> tuple[str, ...]:
    """As ``diagnosis_keys``; a procedure table entry is at least a 5-character category."""
    return _keys(code, (5,))


def in_list(keys: tuple[str, ...], codes: frozenset[str]) -> bool:
    return not codes.isdisjoint(keys)


def first_in(keys: tuple[str, ...], table: Mapping[str, object]) -> str | None:
    """The key under which a code is found, most specific first."""
    for k in keys:
        if k in table:
            return k
    return None


@dataclass
class DrgTables:
    """One grouper version; built by ``drg_loader.load`` (which reports what it dropped)."""

    version: str
    synthetic: bool
    mdcs: dict[str, Mdc]
    dx_mdc: dict[str, tuple[str, ...]]  # diagnosis (or prefix) → MDC letters
    trauma_region: dict[str, str]  # MDCZ diagnosis (or prefix) → body region
    adrgs: dict[str, Adrg]
    drgs: dict[str, Drg]
    cc: dict[str, CcEntry]
    cce: dict[str, frozenset[str]]  # principal diagnosis (or prefix) → its exclusion tables
    or_procs: frozenset[str]  # operating-room procedures (for the ambiguous group)
    # Compiled: MDC letters in precedence order; each MDC's ADRGs surgical → non-OR → medical.
    order: tuple[Mdc, ...] = field(init=False)
    adrgs_by_mdc: dict[str, tuple[Adrg, ...]] = field(init=False)
    splits: dict[str, dict[str, Drg]] = field(init=False)
    # Fast-path indexes: codes any pre-MDC rule reads, and per MDC which ADRGs a code can enter.
    pre_codes: frozenset[str] = field(init=False)
    pre_min_vent: int = field(init=False)
    adrg_index: dict[str, dict[str, frozenset[str]]] = field(init=False)
    adrg_always: dict[str, frozenset[str]] = field(init=False)
    mdc_codes: dict[str, frozenset[str]] = field(init=False)  # MDC → its diagnosis entries
    _keys: dict[str, tuple[str, ...]] = field(init=False, repr=False)
    _paths: dict[str | None, tuple[Mdc, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.order = tuple(sorted(self.mdcs.values(), key=lambda m: m.order))
        rank = {m.code: i for i, m in enumerate(self.order)}
        self.dx_mdc = {k: tuple(sorted(v, key=rank.__getitem__)) for k, v in self.dx_mdc.items()}
        self._keys, self._paths = {}, {}
        codes: dict[str, set[str]] = {m: set() for m in self.mdcs}
        for code, letters in self.dx_mdc.items():
            for letter in letters:
                codes[letter].add(code)
        self.mdc_codes = {m: frozenset(v) for m, v in codes.items()}
        self._index()
        by_mdc: dict[str, list[Adrg]] = {m: [] for m in self.mdcs}
        for a in self.adrgs.values():
            by_mdc[a.mdc].append(a)
        self.adrgs_by_mdc = {
            m: tuple(sorted(v, key=lambda a: (KIND_ORDER[a.kind], a.order, a.code)))
            for m, v in by_mdc.items()
        }
        self.splits = {}
        for d in self.drgs.values():
            self.splits.setdefault(d.adrg, {})[d.code[3]] = d

    def _index(self) -> None:
        pre = [a for a in self.adrgs.values() if self.mdcs[a.mdc].special == Special.pre]
        self.pre_codes = frozenset().union(*(a.dx | a.proc | a.proc2 for a in pre))
        vents = [a.min_vent_hours for a in pre if a.rule == Rule.vent]
        self.pre_min_vent = min(vents) if vents else 1 << 62
        index: dict[str, dict[str, set[str]]] = {m: {} for m in self.mdcs}
        always: dict[str, set[str]] = {m: set() for m in self.mdcs}
        for a in self.adrgs.values():
            if a.rule == Rule.vent and not a.proc:
                always[a.mdc].add(a.code)
            for code in a.dx | a.proc | a.proc2:
                index[a.mdc].setdefault(code, set()).add(a.code)
        self.adrg_index = {m: {k: frozenset(v) for k, v in d.items()} for m, d in index.items()}
        self.adrg_always = {m: frozenset(v) for m, v in always.items()}

    def dx_keys(self, code: str) -> tuple[str, ...]:
        """``diagnosis_keys``, remembered (a month of records repeats a few thousand codes)."""
        keys = self._keys.get(code)
        if keys is None:
            keys = diagnosis_keys(code)
            if len(self._keys) < KEYS_KEPT:
                self._keys[code] = keys
        return keys

    def proc_keys(self, code: str) -> tuple[str, ...]:
        keys = self._keys.get(code)
        if keys is None:
            keys = procedure_keys(code)
            if len(self._keys) < KEYS_KEPT:
                self._keys[code] = keys
        return keys

    def mdc_path(self, principal_key: str | None) -> tuple[Mdc, ...]:
        """The MDCs worth testing, in precedence order: the special ones and the principal's."""
        path = self._paths.get(principal_key)
        if path is None:
            own = set(self.dx_mdc[principal_key]) if principal_key is not None else set()
            path = tuple(m for m in self.order if m.special != Special.none or m.code in own)
            self._paths[principal_key] = path
        return path

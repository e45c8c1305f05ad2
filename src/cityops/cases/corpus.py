"""The labelled report corpus (标注语料): loading, validation and the held-out split.

``data/corpus/*.yaml`` map a category code to hand-written resident, hotline and inspector
texts. Loading never fails on one bad entry: an unknown code, an empty or non-text item or a
text filed under two categories is reported with its file and line in ``Corpus.errors`` and left
out, so a typo in one file cannot stop the classifier from training.

The split is deterministic and stratified: within each category the texts are ordered by a
stable hash (SHA-1 of the text) and the first fifth is held out. Adding a text moves at most one
other text across the boundary of its category.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

CORPUS_DIR = Path(__file__).parent / "data" / "corpus"
HELD_OUT_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text and where it was written (``file:line``)."""

    code: str
    text: str
    source: str


@dataclass
class Corpus:
    examples: list[Example]
    errors: list[str]
    digest: str  # SHA-256 of the files read, in name order: the model cache key

    def by_code(self) -> dict[str, list[Example]]:
        out: dict[str, list[Example]] = defaultdict(list)
        for ex in self.examples:
            out[ex.code].append(ex)
        return dict(out)


def _stable_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _file_examples(
    path: Path, text: str, known: Container[str], errors: list[str]
) -> Iterable[Example]:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        errors.append(f"{path.name}: not valid YAML ({exc}); file left out")
        return
    if root is None:
        return
    if not isinstance(root, yaml.MappingNode):
        errors.append(f"{path.name}:{root.start_mark.line + 1}: not a mapping; file left out")
        return
    for key, value in root.value:
        where = f"{path.name}:{key.start_mark.line + 1}"
        code = str(key.value).strip()
        if code not in known:
            errors.append(f"{where}: unknown category {code!r}; its texts left out")
            continue
        if not isinstance(value, yaml.SequenceNode):
            errors.append(f"{where}: {code} is not followed by a list of texts; left out")
            continue
        for item in value.value:
            line = f"{path.name}:{item.start_mark.line + 1}"
            if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
                errors.append(f"{line}: empty or non-text report under {code}; left out")
                continue
            yield Example(code, " ".join(str(item.value).split()), line)


def load_corpus(known: Container[str], directory: Path | None = None) -> Corpus:
    """Every ``*.yaml`` in ``directory`` (default: the shipped corpus), validated."""
    folder = directory or CORPUS_DIR
    digest = hashlib.sha256()
    errors: list[str] = []
    seen: dict[str, Example] = {}
    examples: list[Example] = []
    for path in sorted(folder.glob("*.yaml")):
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(f"{path.name}: not UTF-8; file left out")
            continue
        for ex in _file_examples(path, text, known, errors):
            first = seen.get(ex.text)
            if first is None:
                seen[ex.text] = ex
                examples.append(ex)
            elif first.code != ex.code:
                errors.append(
                    f"{ex.source}: the same text is filed under {first.code} at "
                    f"{first.source}; the second one left out"
                )
    return Corpus(examples, errors, digest.hexdigest())


def split(examples: Iterable[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held_out): per category, the first fifth in stable-hash order is held out."""
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[ex.code].append(ex)
    train: list[Example] = []
    held: list[Example] = []
    for code in sorted(groups):
        ordered = sorted(groups[code], key=lambda e: _stable_key(e.text))
        n_held = round(len(ordered) * HELD_OUT_SHARE)
        held += ordered[:n_held]
        train += ordered[n_held:]
    return train, held

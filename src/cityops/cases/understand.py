"""Understanding free text for intake: which category, and where (智能分类与地名落图).

Every intake channel calls :func:`classify_texts` for reports without a category and
:func:`place_of` for reports without a point. The classifier and the gazetteer are built once
per process and kept in ``rules.extras`` (dropped with the rules when the map changes).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from cityops.cases import gazetteer as gaz
from cityops.cases.classify import MAX_TEXT, Classifier, Suggestion, load_or_train
from cityops.cases.models import Case
from cityops.cases.rules import CaseRules
from cityops.cases.schemas import CaseCreate
from cityops.errors import CityOpsError, NotFound, ValidationFailed

CLASSIFIER_KEY = "classifier"
GAZETTEER_KEY = "gazetteer"
_building = threading.Lock()  # one training per process, however many requests ask at once


@dataclass(frozen=True, slots=True)
class Guess:
    """The model's ranked suggestions for one text and whether the top one may be filed."""

    suggestions: list[Suggestion]
    auto: bool

    @property
    def top(self) -> Suggestion:
        return self.suggestions[0]

    def facts(self) -> dict[str, Any]:
        """How the category was found, for the ledger and ``Case.classification``."""
        return {
            "by": "model",
            "auto": self.auto,
            "suggestions": [
                {"category": s.code, "name": s.name, "confidence": s.confidence}
                for s in self.suggestions
            ],
        }


def classifier(rules: CaseRules) -> Classifier:
    """The process's classifier (trained or unpickled on first use)."""
    model = rules.extras.get(CLASSIFIER_KEY)
    if isinstance(model, Classifier):
        return model
    with _building:
        model = rules.extras.get(CLASSIFIER_KEY)
        if not isinstance(model, Classifier):
            model = load_or_train(
                rules.catalogue,
                model_dir=rules.settings.classify_model_dir,
                corpus_dir=rules.settings.corpus_dir,
            )
            rules.extras[CLASSIFIER_KEY] = model
    return model


def classify_texts(rules: CaseRules, texts: Sequence[str], k: int = 3) -> list[Guess]:
    """Ranked suggestions per text; ``auto`` when the top one reaches the setting's threshold."""
    floor = rules.settings.classify_min_confidence
    return [
        Guess(s, auto=bool(s) and s[0].confidence >= floor)
        for s in classifier(rules).suggest_many(texts, k)
    ]


def guesses_for(rules: CaseRules, items: Sequence[CaseCreate]) -> list[Guess | CityOpsError | None]:
    """Per report: None when it names its category, else the model's guess (one batch call)."""
    out: list[Guess | CityOpsError | None] = [None] * len(items)
    texts: list[str] = []
    which: list[int] = []
    for i, data in enumerate(items):
        if data.category is not None:
            continue
        text = " ".join(t for t in (data.title, data.description) if t and t.strip())
        if not text:
            out[i] = ValidationFailed(
                "give a category, or a description to classify", code="category_required"
            )
            continue
        texts.append(text[:MAX_TEXT])
        which.append(i)
    for i, guess in zip(which, classify_texts(rules, texts) if texts else [], strict=True):
        out[i] = guess
    return out


def gazetteer(rules: CaseRules, session: Session) -> gaz.Gazetteer:
    """The process's gazetteer over the current map and the shipped landmarks."""
    found = rules.extras.get(GAZETTEER_KEY)
    if isinstance(found, gaz.Gazetteer):
        return found
    with _building:
        found = rules.extras.get(GAZETTEER_KEY)
        if not isinstance(found, gaz.Gazetteer):
            found = gaz.load(session)
            rules.extras[GAZETTEER_KEY] = found
    return found


def place_of(
    rules: CaseRules, session: Session, *texts: str | None, district_code: str | None = None
) -> gaz.PlaceMatch | None:
    """The first place named in ``texts`` (address before description), or None."""
    g = gazetteer(rules, session)
    for text in texts:
        if text:
            match = g.find(text, district_code=district_code)
            if match is not None:
                return _anchored(rules, match)
    return None


_NUDGE = 1e-6  # degrees, about 0.1 m


def _anchored(rules: CaseRules, match: gaz.PlaceMatch) -> gaz.PlaceMatch:
    """The match with its point nudged off a grid line (a representative point can sit on the
    line between two grids, which is in neither) into its own street."""
    p = match.place
    for dlat, dlng in ((0, 0), (_NUDGE, _NUDGE), (-_NUDGE, -_NUDGE), (_NUDGE, -_NUDGE)):
        found = rules.index.locate(p.lng + dlng, p.lat + dlat)
        if found is not None and (p.street_code is None or found.street_code == p.street_code):
            moved = replace(p, lat=p.lat + dlat, lng=p.lng + dlng)
            return replace(match, place=moved)
    return match


def place_facts(match: gaz.PlaceMatch) -> dict[str, Any]:
    """How the point was found, for the ledger and the API."""
    p = match.place
    return {
        "by": "gazetteer",
        "matched": match.matched,
        "name": p.name,
        "kind": p.kind,
        "detail": match.detail,
        "lat": round(p.lat, 6),
        "lng": round(p.lng, 6),
        "district_code": p.district_code,
        "street_code": p.street_code,
        "community_code": p.community_code,
        "confidence": match.confidence,
        "candidates": [asdict(c) for c in match.candidates[:5]],
    }


def place_words(located: dict[str, Any] | None) -> str | None:
    """An address made of the place named and its detail ("民主村" + "3栋门口")."""
    return f"{located['name']}{located['detail']}"[:200] if located else None


def how_found(guess: Guess | None, located: dict[str, Any] | None) -> str | None:
    """JSON of the model's suggestions and the gazetteer's place, when either was used."""
    facts = {
        **({"category": guess.facts()} if guess else {}),
        **({"place": located} if located else {}),
    }
    return json.dumps(facts, ensure_ascii=False) if facts else None


def recategorise(rules: CaseRules, case: Case, code: str, facts: dict[str, Any]) -> None:
    """The 受理员's correction of the category the report was filed under."""
    try:
        category = rules.catalogue.get(code)
    except NotFound as exc:
        raise ValidationFailed(exc.message, code="unknown_category") from exc
    old = rules.catalogue.get(case.category_code) if case.category_code in rules.catalogue else None
    if old is not None and case.title == old.name[:120]:
        case.title = category.name[:120]
    facts["category"] = {"from": case.category_code, "to": code}
    case.category_code, case.major_code, case.kind = code, code[:2], category.kind
    case.catalogue_version = rules.catalogue.version

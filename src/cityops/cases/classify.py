"""Report text → category suggestions (智能分类), offline.

Features are TF-IDF over jieba words (uni- and bigrams) and over character 1–3-grams (robust to
typos such as 井该 and to words jieba does not know); the model is a linear SVM whose class scores
a logistic regression, fitted on out-of-fold scores, turns into probabilities (stacking). Each
category's name and keywords from the catalogue are added as one more training text. The corpus
and the split are in :mod:`cityops.cases.corpus`.

The fitted model is trained once per process on first use and pickled under ``model_dir`` keyed
by a hash of the corpus, the catalogue and :data:`MODEL_VERSION`, so later starts only unpickle.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jieba
import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline, make_union
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from cityops.cases.categories import Catalogue
from cityops.cases.corpus import Corpus, Example, load_corpus, split
from cityops.errors import ValidationFailed

MODEL_VERSION = "3"  # bump when features or the estimator change
MAX_TEXT = 4000
_MIN_PER_CATEGORY = 3  # the stacking's 3 folds need 3 texts of a category
_log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter goes to stderr otherwise
_TOKENIZER = jieba.Tokenizer()
_LOCK = threading.Lock()
_MEMO: dict[str, Classifier] = {}


def words(text: str) -> list[str]:
    """jieba segmentation without blanks; module-level so the pipeline pickles."""
    return [w for w in _TOKENIZER.lcut(text) if w.strip()]


@dataclass(frozen=True, slots=True)
class Suggestion:
    code: str
    name: str
    confidence: float


def model_text(text: str, caption: str | None = None) -> str:
    """What the model reads: the description, then the photo caption."""
    joined = f"{text} {caption}" if caption else text
    return " ".join(joined.split())


def checked_text(text: str, caption: str | None = None) -> str:
    """The text to classify, or ValidationFailed (empty or too long)."""
    joined = model_text(text or "", caption)
    if not joined:
        raise ValidationFailed("the text to classify is empty", code="empty_text")
    if len(joined) > MAX_TEXT:
        raise ValidationFailed(f"text is longer than {MAX_TEXT} characters", code="text_too_long")
    return joined


def build_pipeline() -> Pipeline:
    features = make_union(
        TfidfVectorizer(
            tokenizer=words,
            token_pattern=None,
            lowercase=False,
            sublinear_tf=True,
            ngram_range=(1, 2),
        ),
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
    )
    return make_pipeline(features, StackedSVC(C=0.5))


class StackedSVC(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A linear SVM whose class scores a multinomial logistic regression turns into
    probabilities. The regression is fitted on out-of-fold scores (3 folds), so confidences
    are honest on unseen text; it costs one more small matrix product per batch.
    """

    def __init__(self, C: float = 0.5, folds: int = 3, stack_C: float = 1.0) -> None:
        self.C = C
        self.folds = folds
        self.stack_C = stack_C

    def fit(self, X: Any, y: Sequence[str]) -> StackedSVC:
        labels = np.asarray(y)
        folds = StratifiedKFold(self.folds, shuffle=True, random_state=0)
        scores = cross_val_predict(
            LinearSVC(C=self.C), X, labels, cv=folds, method="decision_function"
        )
        self.stack_ = LogisticRegression(C=self.stack_C, max_iter=3000).fit(scores, labels)
        self.svc_ = LinearSVC(C=self.C).fit(X, labels)
        self.classes_ = self.stack_.classes_
        return self

    def predict_proba(self, X: Any) -> Any:
        return self.stack_.predict_proba(self.svc_.decision_function(X))

    def predict(self, X: Any) -> Any:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def training_texts(catalogue: Catalogue, train: Sequence[Example]) -> tuple[list[str], list[str]]:
    """The corpus texts plus one name-and-keywords text per category with enough examples."""
    texts = [e.text for e in train]
    codes = [e.code for e in train]
    for cat in catalogue.all():
        texts.append(" ".join([cat.name, *cat.keywords]))
        codes.append(cat.code)
    counts: dict[str, int] = {}
    for code in codes:
        counts[code] = counts.get(code, 0) + 1
    keep = [i for i, code in enumerate(codes) if counts[code] >= _MIN_PER_CATEGORY]
    return [texts[i] for i in keep], [codes[i] for i in keep]


class Classifier:
    """A fitted model and the catalogue's names; ``suggest`` ranks categories for a text."""

    def __init__(self, pipeline: Pipeline, names: dict[str, str], key: str) -> None:
        self.pipeline = pipeline
        self.names = names
        self.key = key
        self.codes = np.asarray(pipeline.classes_)

    def suggest(self, text: str, caption: str | None = None, k: int = 3) -> list[Suggestion]:
        """The ``k`` likeliest categories, most likely first; confidences sum to ≤ 1."""
        return self.suggest_many([checked_text(text, caption)], k)[0]

    def suggest_many(self, texts: Sequence[str], k: int = 3) -> list[list[Suggestion]]:
        """Batch form of :meth:`suggest` (texts already joined with their captions)."""
        if not texts:
            return []
        with threadpool_limits(1):  # small products: BLAS threads only fight the server's
            probs = self.pipeline.predict_proba([model_text(t) for t in texts])
        probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
        order = np.argsort(-probs, axis=1)[:, :k]
        out: list[list[Suggestion]] = []
        for row, idx in zip(probs, order, strict=True):
            out.append(
                [
                    Suggestion(
                        str(self.codes[i]),
                        self.names.get(str(self.codes[i]), ""),
                        round(float(row[i]), 4),
                    )
                    for i in idx
                ]
            )
        return out


def model_key(corpus: Corpus, catalogue: Catalogue) -> str:
    """Hash of everything the fitted model depends on."""
    h = hashlib.sha256()
    h.update(f"{MODEL_VERSION}|{sklearn.__version__}|{corpus.digest}|".encode())
    for cat in catalogue.all():
        h.update(f"{cat.code}|{cat.name}|{','.join(cat.keywords)}\n".encode())
    return h.hexdigest()[:24]


def train(catalogue: Catalogue, examples: Sequence[Example], key: str = "") -> Classifier:
    """Fit on ``examples`` (normally the 80% training part of the corpus)."""
    texts, codes = training_texts(catalogue, examples)
    if len(set(codes)) < 2:
        raise ValidationFailed("the corpus has fewer than two categories", code="corpus_too_small")
    pipeline = build_pipeline()
    # One BLAS thread: on a busy 2-core machine threaded BLAS made the stacking's small
    # regression take 8 s instead of 0.5 s.
    with threadpool_limits(1):
        pipeline.fit(texts, codes)
    return Classifier(pipeline, {c.code: c.name for c in catalogue.all()}, key)


def _load_cached(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            return pickle.load(f)  # our own file, written below
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None


def forget() -> None:
    """Drop the process's fitted models (the next use reads the cache or trains again)."""
    with _LOCK:
        _MEMO.clear()


def load_or_train(
    catalogue: Catalogue, *, model_dir: Path, corpus_dir: Path | None = None
) -> Classifier:
    """The process's classifier: memo, then the pickle in ``model_dir``, else train and save."""
    corpus = load_corpus(catalogue, corpus_dir)
    for err in corpus.errors:
        _log.warning("corpus: %s", err)
    key = model_key(corpus, catalogue)
    with _LOCK:
        cached = _MEMO.get(key)
        if cached is not None:
            return cached
        path = model_dir / f"classifier-{key}.pkl"
        pipeline = _load_cached(path)
        if isinstance(pipeline, Pipeline):
            model = Classifier(pipeline, {c.code: c.name for c in catalogue.all()}, key)
        else:
            train_part, _ = split(corpus.examples)
            model = train(catalogue, train_part, key)
            try:
                model_dir.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(pickle.dumps(model.pipeline))
                tmp.replace(path)
            except OSError as exc:
                _log.warning("cannot cache the classifier in %s: %s", model_dir, exc)
        _MEMO[key] = model
        return model

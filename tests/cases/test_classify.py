"""The labelled corpus, its held-out split, and the classifier trained on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityops.cases.categories import Catalogue, load_catalogue
from cityops.cases.classify import Classifier, checked_text, forget, load_or_train
from cityops.cases.classify_eval import evaluate
from cityops.cases.corpus import Example, load_corpus, split
from cityops.errors import ValidationFailed


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model")


@pytest.fixture(scope="module")
def model(catalogue: Catalogue, model_dir: Path) -> Classifier:
    """Fitted in this module's own folder: an earlier test may have left one in the memo."""
    forget()
    return load_or_train(catalogue, model_dir=model_dir)


def test_the_corpus_covers_every_category_with_30_reports_and_has_no_bad_entries(
    catalogue: Catalogue,
) -> None:
    corpus = load_corpus(catalogue)
    assert corpus.errors == []
    counts = {code: len(v) for code, v in corpus.by_code().items()}
    assert set(counts) == {c.code for c in catalogue.public()}
    assert min(counts.values()) >= 30
    assert len(corpus.examples) >= 3000


def test_bad_corpus_entries_are_reported_with_file_and_line_and_left_out(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    (tmp_path / "a.yaml").write_text(
        "'06010':\n  - 路边一堆垃圾\n  - ''\n'99999':\n  - 外星人\n'06001':\n  - 路边一堆垃圾\n",
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text("'06010': [unclosed\n", encoding="utf-8")
    corpus = load_corpus(catalogue, tmp_path)
    assert [(e.code, e.text, e.source) for e in corpus.examples] == [
        ("06010", "路边一堆垃圾", "a.yaml:2")
    ]
    assert any(e.startswith("a.yaml:3: empty") for e in corpus.errors), corpus.errors
    assert any(e.startswith("a.yaml:4: unknown category '99999'") for e in corpus.errors)
    assert any(e.startswith("a.yaml:7: the same text is filed under 06010") for e in corpus.errors)
    assert any(e.startswith("b.yaml: not valid YAML") for e in corpus.errors)


def test_the_split_is_deterministic_disjoint_and_a_fifth_of_each_category() -> None:
    examples = [Example(f"0601{c}", f"报告{c}-{i}", "x") for c in range(3) for i in range(40)]
    train, held = split(examples)
    again_train, again_held = split(list(reversed(examples)))
    assert {e.text for e in held} == {e.text for e in again_held}
    assert {e.text for e in train} == {e.text for e in again_train}
    assert not {e.text for e in train} & {e.text for e in held}
    assert len(train) + len(held) == len(examples)
    for c in range(3):
        assert sum(e.code == f"0601{c}" for e in held) == 8
    # Adding a text moves at most one other text across the line.
    _, more_held = split([*examples, Example("06010", "新来的一条", "x")])
    moved = {e.text for e in held} ^ ({e.text for e in more_held} - {"新来的一条"})
    assert len(moved) <= 1


def test_the_model_meets_the_accuracy_floor_on_the_held_out_set(
    catalogue: Catalogue, model: Classifier
) -> None:
    _, held = split(load_corpus(catalogue).examples)
    ev = evaluate(model, held)
    assert ev.top1 >= 0.85, ev.top1
    assert ev.top3 >= 0.95, ev.top3
    assert ev.macro_f1 >= 0.8


def test_suggestions_are_ranked_named_and_cached_on_disk(
    catalogue: Catalogue, model: Classifier, model_dir: Path
) -> None:
    top = model.suggest("小区门口好多生活垃圾堆在地上没人收，臭得很", k=3)
    assert len(top) == 3 and top[0].code == "06010" and top[0].name == "暴露垃圾"
    assert top[0].confidence >= top[1].confidence >= top[2].confidence
    assert model.suggest("工地晚上12点了还在打桩", caption="塔吊 围挡")[0].code == "08001"
    # A new process (the memo forgotten) reads the fitted model back from the cache folder.
    (cached,) = model_dir.glob("classifier-*.pkl")
    assert model.key in cached.name
    forget()
    again = load_or_train(catalogue, model_dir=model_dir)
    assert again is not model and again.key == model.key
    text = "马路上的井盖不见了"
    assert again.suggest(text) == model.suggest(text)


@pytest.mark.parametrize(("text", "code"), [("   ", "empty_text"), ("长" * 4001, "text_too_long")])
def test_empty_or_too_long_text_is_refused(text: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        checked_text(text)
    assert err.value.code == code

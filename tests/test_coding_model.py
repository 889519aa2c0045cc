"""The coder with the real spaCy pipeline: a small fixture codebook ("demo") trained once per session
(tests/data/coding), then rules with negation, the predict contract, thresholds, files and
reproducibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.coding import calibration, codebooks, corpus, training
from analysis.coding.codebooks import CodebookError
from analysis.coding.lemmas import docs
from analysis.coding.model import NEGATED, Coder, decide, feature_words
from tests.support.coding import FIXTURE_CODEBOOKS, FIXTURE_CORPUS, load_demo, train_demo


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("models")
    train_demo(models)
    return models


@pytest.fixture(scope="session")
def demo(demo_dir: Path) -> Coder:
    return load_demo(demo_dir)


def support(coder: Coder, text: str, code: str) -> tuple[int, int]:
    return coder.rules.features(docs(coder.analyser, [text])[0])[code]


# ---------------------------------------------------------------- features and calibration


def test_negation_scope_features(demo: Coder) -> None:
    words = feature_words(docs(demo.analyser, ["no tuvimos problemas de conexion, pero el equipo cambio"])[0])
    negated = {w for w in words if w.startswith(NEGATED)}
    assert NEGATED + "conexion" in negated  # in the scope of "no"
    assert not any(w.endswith(("equipo", "equipar", "cambio", "cambiar")) for w in negated)  # "pero" ends it


def test_blended_calibration_is_saved(demo_dir: Path, demo: Coder) -> None:
    meta = json.loads((demo_dir / "demo" / "coder.json").read_text(encoding="utf-8"))
    assert 0 < meta["blend"] < 1
    # own features, every view's score of every code, bias
    width = calibration.n_features(len(demo.views), len(demo.codes), stacked=True) + 1
    assert {len(w) for w in meta["stacked_weights"].values()} == {width}
    assert meta["views"] == ["lemmas", "linear"]
    scores = demo.predict_one("no hubo conectividad").scores
    assert all(0.0 <= p <= 1.0 for p in scores.values())


# ---------------------------------------------------------------- rules


def test_negated_resource_supports_a_negative_code(demo: Coder) -> None:
    assert support(demo, "no hubo conectividad", "conectividad") == (1, 0)
    assert support(demo, "sin internet en la alcaldia", "conectividad") == (1, 0)


def test_negated_problem_is_against_a_negative_code(demo: Coder) -> None:
    assert support(demo, "no tuvimos problemas de conexion", "conectividad") == (0, 1)
    assert support(demo, "No tuvimos ningún problema con la señal", "conectividad") == (0, 1)
    assert support(demo, "problemas de conexion todo el tiempo", "conectividad") == (1, 0)


def test_negation_is_against_a_positive_code(demo: Coder) -> None:
    assert support(demo, "no hubo claridad", "claridad_procesos") == (0, 1)
    assert support(demo, "hay mucha claridad", "claridad_procesos") == (1, 0)
    # A clause break ends the negation's reach.
    assert support(demo, "no vinieron, pero hubo claridad", "claridad_procesos") == (1, 0)


def test_rules_match_on_lemmas(demo: Coder) -> None:
    # "secretarias" is a keyword; its singular matches through the lemma table when the form is known.
    assert support(demo, "las secretarias trabajan juntas", "coordinacion_interna")[0] == 1


# ---------------------------------------------------------------- predict contract


@pytest.mark.parametrize("text", ["", "   ", ".", "jajaja", "?", "😀", "asdf qwerty", "no", "1"])
def test_codes_are_never_empty(demo: Coder, text: str) -> None:
    p = demo.predict_one(text)
    assert p.codes and set(p.codes) <= set(demo.codes)
    assert set(p.scores) == set(demo.codes) and all(0.0 <= s <= 1.0 for s in p.scores.values())


@pytest.mark.parametrize("text", ["", ".", "jajajaja", "!!!", "  "])
def test_empty_or_meaningless_is_sin_respuesta(demo: Coder, text: str) -> None:
    p = demo.predict_one(text)
    assert p.codes == ["sin_respuesta"] and p.needs_review is False


def test_exclusive_codes_stand_alone(demo: Coder) -> None:
    for p in demo.predict(["depende del asesor y no hubo conectividad", "no se", "el paso a paso quedo claro"]):
        assert len(p.codes) == 1 or not {"otro", "sin_respuesta"} & set(p.codes)


def test_clear_answers(demo: Coder) -> None:
    assert demo.predict_one("se caia el internet a cada rato").codes == ["conectividad"]
    assert "claridad_procesos" in demo.predict_one("ahora tenemos claro el paso a paso del procedimiento").codes


def test_needs_review_follows_the_threshold(demo: Coder) -> None:
    texts = [e.text for e in corpus.load(demo.codebook, FIXTURE_CORPUS)]
    predictions = demo.predict(texts)
    assert all(p.needs_review == (p.confidence < demo.threshold) for p in predictions)
    assert any(p.needs_review for p in predictions) or demo.threshold <= min(p.confidence for p in predictions)
    # Batch and single predictions agree.
    assert [p.codes for p in predictions[:5]] == [demo.predict_one(t).codes for t in texts[:5]]


CODES = ("conectividad", "destiempo", "otro")


@pytest.mark.parametrize(("scores", "codes", "confidence"), [
    # A sure code and nothing else near: the least sure decision is the code given.
    ({"conectividad": 0.97, "destiempo": 0.02, "otro": 0.01}, ["conectividad"], 0.97),
    # A code left out counts too: at 0.12 it is the least sure decision, at 0.35 more so.
    ({"conectividad": 0.97, "destiempo": 0.12, "otro": 0.04}, ["conectividad"], 0.88),
    ({"conectividad": 0.97, "destiempo": 0.35, "otro": 0.04}, ["conectividad"], 0.65),
    # Two codes given: the less sure one.
    ({"conectividad": 0.91, "destiempo": 0.83, "otro": 0.02}, ["conectividad", "destiempo"], 0.83),
    # otro, exclusive, dropped beside a substantive code while likely: it holds the answer back.
    ({"conectividad": 0.9, "destiempo": 0.1, "otro": 0.6}, ["conectividad"], 0.4),
])
def test_routing_confidence_is_the_least_sure_decision(scores: dict[str, float], codes: list[str],
                                                      confidence: float) -> None:
    given, found, guessed = decide(CODES, scores, meaningless=False)
    assert (given, guessed) == (codes, False)
    assert found == pytest.approx(confidence)


def test_a_guess_is_never_routed_as_sure() -> None:
    given, confidence, guessed = decide(CODES, {"conectividad": 0.45, "destiempo": 0.1, "otro": 0.05}, False)
    assert given == ["conectividad"] and guessed and confidence < 0.5


# ---------------------------------------------------------------- files, threshold, reproducibility


def test_model_files_carry_version_threshold_and_evaluation(demo_dir: Path, demo: Coder) -> None:
    meta = json.loads((demo_dir / "demo" / "coder.json").read_text(encoding="utf-8"))
    assert meta["codebook_version"] == "t.1+shared.t.1"
    assert meta["codes"] == list(demo.codes)
    assert 0.5 <= meta["threshold"] <= 1.0
    assert demo.version == f"t.1+shared.t.1+{meta['model_hash'][:12]}"
    ev = meta["evaluation"]
    assert ev["n"] == len(corpus.split(corpus.load(demo.codebook, FIXTURE_CORPUS), "test"))
    # The stored evaluation is what evaluating the loaded model gives.
    again = training.evaluate(demo, corpus.split(corpus.load(demo.codebook, FIXTURE_CORPUS), "test"))
    assert again.macro_f1 == pytest.approx(ev["macro_f1"], abs=1e-4)
    assert again.coverage == pytest.approx(ev["coverage"], abs=1e-4)
    # The threshold was chosen on cross-validated predictions of the training answers (phrasing families
    # kept apart), with a margin: there the accepted codes meet the target; the held-out split only reports.
    cv = meta["cross_validation"]
    assert cv["threshold"] == meta["threshold"] and (cv["auto_precision"] >= 0.95 or cv["coverage"] == 0)


def test_training_is_reproducible(demo_dir: Path, tmp_path: Path) -> None:
    first = json.loads((demo_dir / "demo" / "coder.json").read_text(encoding="utf-8"))["model_hash"]
    again = train_demo(tmp_path)
    assert again.model_hash == first


def test_a_model_for_other_codes_is_refused(demo_dir: Path, tmp_path: Path) -> None:
    book = codebooks.load("demo", FIXTURE_CODEBOOKS)
    fewer = codebooks.Codebook(book.id, book.version, book.title, book.codes[:-1])
    with pytest.raises(ValueError, match="retrain"):
        Coder.load(demo_dir / "demo", fewer)


# ---------------------------------------------------------------- codebook and corpus validation


def test_codebook_validation(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: bad\nversion: '1'\ncodes:\n  - id: Mal-Id\n    label: x\n",
                                       encoding="utf-8")
    with pytest.raises(CodebookError, match="lowercase"):
        codebooks.load("bad", tmp_path)
    (tmp_path / "dup.yaml").write_text(
        "id: dup\nversion: '1'\ninclude_shared: true\ncodes:\n  - id: otro\n    label: x\n", encoding="utf-8")
    (tmp_path / "shared.yaml").write_text("id: shared\nversion: '1'\ncodes:\n  - id: otro\n    label: Otro\n",
                                          encoding="utf-8")
    with pytest.raises(CodebookError, match="twice"):
        codebooks.load("dup", tmp_path)
    with pytest.raises(CodebookError, match="unknown codebook"):
        codebooks.load("nope", tmp_path)


def test_corpus_validation(tmp_path: Path) -> None:
    book = codebooks.load("demo", FIXTURE_CODEBOOKS)
    lines = [
        {"id": "x-1", "text": "a", "codes": ["claridad_procesos"], "split": "train"},
        {"id": "x-1", "text": "b", "codes": ["inventado"], "split": "train"},
        {"id": "x-2", "text": "c", "codes": ["otro", "conectividad"], "split": "test"},
    ]
    (tmp_path / "demo.jsonl").write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    (tmp_path / "shared.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(corpus.CorpusError) as err:
        corpus.load(book, tmp_path)
    assert "duplicate id" in str(err.value) and "inventado" in str(err.value) and "alone" in str(err.value)
    (tmp_path / "demo.jsonl").write_text('{"id": "y", "text": "t", "codes": [], "split": "dev"}', encoding="utf-8")
    with pytest.raises(corpus.CorpusError, match="split"):
        corpus.load(book, tmp_path)


def test_shared_corpus_is_included_for_por_que_codebooks() -> None:
    book = codebooks.load("demo", FIXTURE_CODEBOOKS)
    sources = {e.source for e in corpus.load(book, FIXTURE_CORPUS)}
    assert sources == {"demo.jsonl", "shared.jsonl"}


def test_reviewed_answers_join_the_training(demo_dir: Path, tmp_path: Path) -> None:
    from analysis.coding.corpus import Example

    reviewed = [Example(id="db-1", text="la señal del pueblo no dio para la reunion", codes=("conectividad",),
                        source="database"),
                Example(id="dsh-0044", text="held-out answers are never added", codes=("otro",))]
    test_ids = {e.id for e in corpus.split(corpus.load(codebooks.load("demo", FIXTURE_CODEBOOKS), FIXTURE_CORPUS),
                                           "test")}
    assert "dsh-0044" in test_ids
    result = training.train("demo", tmp_path, corpus_dir=FIXTURE_CORPUS, codebooks_dir=FIXTURE_CODEBOOKS,
                            reviewed=lambda book: reviewed)
    first = json.loads((demo_dir / "demo" / "coder.json").read_text(encoding="utf-8"))
    assert result.n_reviewed == 1 and result.n_train == first["n_train"] + 1
    assert result.model_hash != first["model_hash"]

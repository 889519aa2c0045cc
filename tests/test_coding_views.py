"""The pieces the coder's generalisation rests on: phrasing families (training folds never split one),
the linear view (a spaCy component: fitted with scikit-learn, saved without pickle, read back to the
same scores) and its character n-grams, which carry a typo the lemmas lose."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy

from analysis.coding import families
from analysis.coding.lemmas import blank_analyser, build_analyser, docs
from analysis.coding.model import char_grams, linear_features, score_view

PHRASINGS = [
    ("si, porque ahora las secretarias se reunen para revisar el plan", "reunion"),
    ("porque las secretarias ahora se reunen a revisar el plan", "reunion"),
    ("Sí: las secretarías se reúnen para revisar el plan!!", "reunion"),
    ("se cae el internet en la alcaldia todo el tiempo", "internet"),
    ("el internet de la alcaldia se cae todo el tiempo", "internet"),
    ("aprendimos a formular indicadores", "indicadores"),
    ("ninguna", "ninguna"),
    ("Ninguna.", "ninguna"),
    ("excelente", "excelente"),
    ("bueno", "bueno"),
]


def test_answers_phrased_alike_are_one_family() -> None:
    found = families.families([t for t, _ in PHRASINGS])
    for (_, a), fa in zip(PHRASINGS, found, strict=True):
        for (_, b), fb in zip(PHRASINGS, found, strict=True):
            assert (fa == fb) == (a == b), (a, b)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_folds_keep_each_family_on_one_side(k: int) -> None:
    texts = [t for t, _ in PHRASINGS] * 1  # as given
    folds = families.folds(texts, k)
    assert folds == families.folds(texts, k)  # deterministic
    assert set(folds) <= set(range(k))
    by_family: dict[int, set[int]] = {}
    for family, fold in zip(families.families(texts), folds, strict=True):
        by_family.setdefault(family, set()).add(fold)
    assert all(len(f) == 1 for f in by_family.values())


def test_a_family_never_swallows_a_corpus_of_short_answers() -> None:
    verdicts = ["bueno", "muy bueno", "buena asesoria", "asesoria", "excelente asesoria", "excelente"] * 20
    assert max(families.families(verdicts).count(f) for f in set(families.families(verdicts))) <= families.MAX_SIZE


def test_character_ngrams_survive_a_typo() -> None:
    analyser = blank_analyser({})
    right, typo = (set(char_grams(d)) for d in docs(analyser, ["armonizacion", "armonisasion"]))
    assert len(right & typo) / len(right | typo) > 0.3  # the lemma is lost, most n-grams are not
    assert " ar" in right and "ion " in right


def test_the_linear_view_round_trips_without_pickle(tmp_path: Path) -> None:
    analyser = blank_analyser({})
    train = [("se cayo el internet", ["conectividad"]), ("no habia señal en la alcaldia", ["conectividad"]),
             ("el internet es muy lento", ["conectividad"]), ("las secretarias trabajan juntas", ["coordinacion"]),
             ("hacienda y planeacion se reunen", ["coordinacion"]), ("las oficinas comparten datos", ["coordinacion"])]
    features = [linear_features(d) for d in docs(analyser, [t for t, _ in train])]
    nlp = spacy.blank("es")
    nlp.add_pipe("m360_linear").fit(features, [g for _, g in train], ["conectividad", "coordinacion"])
    nlp.to_disk(tmp_path / "view")
    assert not list((tmp_path / "view").rglob("*.pkl"))
    again = spacy.load(tmp_path / "view")
    probe = [linear_features(d) for d in docs(analyser, ["se cae el internt", "las secretarias se reunen"])]
    before = score_view(nlp, probe, ["conectividad", "coordinacion"])
    after = score_view(again, probe, ["conectividad", "coordinacion"])
    assert after == pytest.approx(before, abs=1e-5)
    assert after[0, 0] > 0.5 > after[0, 1] and after[1, 1] > 0.5 > after[1, 0]  # typo "internt" still read


SPELLING_TRAIN = ["recibimos capacitacion en el plan", "falta conectividad en la alcaldia",
                  "no hay presupuesto para el equipo", "las capacitaciones fueron utiles",
                  "todo normal", "un proceso legal", "un tema politico", "la habilidad del equipo"]


@pytest.mark.parametrize(("typed", "read"), [
    ("capasitacion", "capacitacion"),  # by ear (s for c)
    ("conectibidad", "conectividad"),  # b for v, by ear
    ("presupeusto", "presupuesto"),  # two letters swapped
    ("alcladia", "alcaldia"),  # swapped
    ("conectividd", "conectividad"),  # a letter dropped
    ("abilidad", "habilidad"),  # a silent h dropped
])
def test_the_speller_reads_a_typo_back_to_a_training_word(typed: str, read: str) -> None:
    analyser = build_analyser(SPELLING_TRAIN)
    typo, right = docs(analyser, [f"nos falta {typed} ya", f"nos falta {read} ya"])
    assert typo[2].text == typed and typo[2].lemma_ == right[2].lemma_  # the lemma of the word meant


@pytest.mark.parametrize("text", ["el plan", "mesa", "otro", "capacitacion", "zzzzqqqq",
                                  "anormal", "ilegal", "apolitico"])  # a prefix is not a typo
def test_the_speller_leaves_known_short_and_unrelated_words_alone(text: str) -> None:
    analyser = build_analyser(SPELLING_TRAIN)
    plain = build_analyser(SPELLING_TRAIN, speller=False)
    assert [t.lemma_ for t in docs(analyser, [text])[0]] == [t.lemma_ for t in docs(plain, [text])[0]]


def test_the_speller_is_saved_with_the_analyser(tmp_path: Path) -> None:
    build_analyser(SPELLING_TRAIN).to_disk(tmp_path / "analyser")
    again = spacy.load(tmp_path / "analyser")
    assert "m360_spelling" in again.pipe_names
    assert [t.lemma_ for t in docs(again, ["capasitacion"])[0]] == ["capacitacion"]

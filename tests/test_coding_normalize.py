"""Chat normalisation for the coder: what it changes and, above all, what it must keep."""

from __future__ import annotations

import pytest

from analysis.coding.normalize import NEGATIONS, fold_accents, is_meaningless, normalize

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`


@pytest.mark.parametrize(("text", "expected"), [
    ("Buenooo", "bueno"),
    ("muuuuy bien", "muy bien"),
    ("jajajajaja", "jaja"),
    ("xq no llegaron", "porque no llegaron"),
    ("q pena, tb faltó", "que pena, tambien falto"),
    ("pa la secre", "para la secretaria"),
    ("el PDT y el KPT", "el plan de desarrollo territorial y el kit de planeacion territorial"),
    ("Planeación, Información", "planeacion, informacion"),
    ("N/A", "no aplica"),
    ("Excelente!!!", "excelente!"),
])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_negation_words_are_kept() -> None:
    text = "No hubo conectividad, sin internet, nada de visitas, nunca vinieron ni llamaron, tampoco"
    words = normalize(text).replace(",", "").split()
    for word in ("no", "sin", "nada", "nunca", "ni", "tampoco"):
        assert word in words, word
    assert {"no", "sin", "nada", "nunca", "ni"} <= NEGATIONS


def test_enye_is_kept_while_accents_go() -> None:
    assert fold_accents("Señal en Ñame, acompañamiento técnico") == "Señal en Ñame, acompañamiento tecnico"
    assert normalize("SEÑAL") == "señal"


def test_emoji_become_words() -> None:
    out = normalize("bien 👍")
    assert out.startswith("bien emoji_") and "pulgar" in out
    assert not is_meaningless(normalize("👍"))  # assent is an answer, not noise


@pytest.mark.parametrize("text", ["", ".", "...", "jajaja", "?!", "123", None])
def test_meaningless(text: str | None) -> None:
    assert is_meaningless(normalize(text))


@pytest.mark.parametrize("text", ["no se", "ok", "ninguna", "no", "10/10", "4 / 5", "100%", "💯"])
def test_short_words_are_not_meaningless_by_rule(text: str) -> None:
    # A score in digits is a verdict ("10/10" is valoracion_positiva's own example), not noise.
    # Words, even empty-ish ones, are left to the model (it learns sin_respuesta from the corpus).
    assert not is_meaningless(normalize(text))

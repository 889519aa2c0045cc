"""surveys.folding: the one text-folding helper, with the options its callers use."""

from __future__ import annotations

import pytest

from surveys.folding import fold, fold_words

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Planeación", "planeacion"),
        ("GÜICÁN DE LA SIERRA", "guican de la sierra"),
        ("Nariño", "narino"),
        ("SÍ, ACEPTO", "si, acepto"),
        ("Ge\u0301nova", "genova"),  # the accent typed as a combining mark
        ("Gé\u200dnova", "genova"),  # a zero-width joiner pasted from a chat
        ("plane\u00adación", "planeacion"),  # a soft hyphen
        ("ＧＥＮＯＶＡ", "genova"),  # full-width letters
        ("1ª vez", "1a vez"),
        ("ok 👍", "ok 👍"),  # emoji are not accents: they stay
        ("", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_keep_case_and_enye_as_the_coder_reads() -> None:
    assert fold("Planeación Ñame, acompañamiento", keep_case=True, keep_enye=True) == "Planeacion Ñame, acompañamiento"
    assert fold("Señal", keep_enye=True) == "señal"
    assert fold("Señal", keep_case=True) == "Senal"
    assert fold("ASCII only", keep_case=True) == "ASCII only"


def test_compatibility_off_keeps_ordinal_indicators() -> None:
    assert fold("4.º trimestre", compatibility=False) == "4.º trimestre"
    assert fold("4.º trimestre") == "4.o trimestre"


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("4\ufe0f\u20e3", " 4 "),  # keycap: 4 + VS16 + COMBINING ENCLOSING KEYCAP
        ("4\u20e3", " 4 "),  # keycap without the variation selector
        ("\U0001f51f", " 10 "),  # 🔟
        ("٣", "3"),  # Arabic-Indic digit
        ("१२", "12"),  # Devanagari digits
        ("le doy 5\ufe0f\u20e3 ⭐", "le doy  5  ⭐"),
    ],
)
def test_digits_reads_keycaps_and_other_scripts(text: str, folded: str) -> None:
    assert fold(text, digits=True) == folded


def test_without_digits_a_keycap_loses_its_marks_only() -> None:
    assert fold("4\ufe0f\u20e3") == "4"
    assert fold("\U0001f51f") == "\U0001f51f"
    assert fold("٣") == "٣"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("  GÉNOVA (Q.) ", "genova q"),
        ("Bogotá, D.C.", "bogota dc"),
        ("Cund.", "cund"),
        ("Llanos-Orinoquía", "llanos orinoquia"),
        ("San Andrés y Providencia", "san andres y providencia"),
        ("O’Higgins", "ohiggins"),
        ("En_gestión", "en gestion"),
        ("¿¡!?", ""),
    ],
)
def test_fold_words(text: str, key: str) -> None:
    assert fold_words(text) == key

"""Theme taxonomy (bot/helpdesk/themes.yaml) and the keyword classifier of the mesa de ayuda.

Table cases live in data/theme_cases.yaml: realistic WhatsApp requests → the theme that must come first.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from bot.helpdesk.themes import (
    KeywordClassifier,
    Taxonomy,
    Theme,
    ThemeClassifier,
    fold_phrase,
    load_taxonomy,
)

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

ROOT = Path(__file__).resolve().parent.parent
CASES = yaml.safe_load((Path(__file__).parent / "data" / "theme_cases.yaml").read_text(encoding="utf-8"))

# The theme taxonomy, in this order.
THEME_IDS = (
    "formulacion_pdt", "plan_indicativo", "armonizacion_presupuestal", "planeacion_financiera", "seguimiento_pdt",
    "proyectos", "rendicion_cuentas", "agendas_regionales", "ordenamiento_territorial", "gobierno_abierto",
    "conectividad_digital", "otro",
)  # fmt: skip


@pytest.fixture(scope="module")
def classifier() -> KeywordClassifier:
    return KeywordClassifier(load_taxonomy())


# ---------------------------------------------------------------- taxonomy data


def test_ids_are_the_taxonomy_in_order() -> None:
    assert load_taxonomy().ids == THEME_IDS


def test_labels_match_the_interview_list() -> None:
    questionnaire = yaml.safe_load((ROOT / "surveys/questionnaires/monitoreo360.yaml").read_text(encoding="utf-8"))
    interview = {c["name"]: c["label"] for c in questionnaire["choice_lists"]["temas"]}
    assert {t.id: t.label for t in load_taxonomy().themes} == interview


def test_every_theme_is_complete() -> None:
    for theme in load_taxonomy().themes:
        assert theme.description and "\n" not in theme.description, theme.id
        assert theme.direccion_tecnica, theme.id
        limits = (6, 20) if theme.catch_all else (8, 20)
        assert limits[0] <= len(theme.keywords) <= limits[1], (theme.id, len(theme.keywords))
        folded = [fold_phrase(k.replace("*", "")) for k in theme.keywords + theme.weak_keywords]
        assert len(set(folded)) == len(folded), f"{theme.id}: keywords that fold to the same words"
    assert [t.id for t in load_taxonomy().themes if t.catch_all] == ["otro"]


def test_no_keyword_is_shared_by_two_themes() -> None:
    owner: dict[str, str] = {}
    for theme in load_taxonomy().themes:
        for kw in theme.keywords + theme.weak_keywords:
            key = fold_phrase(kw.replace("*", ""))
            assert owner.setdefault(key, theme.id) == theme.id, f"{kw!r} in {owner[key]} and {theme.id}"


def test_every_region_has_an_articulador() -> None:
    with (ROOT / "surveys/data/regiones_departamentos.csv").open(encoding="utf-8") as f:
        regions = {row["region_pnd_2018_2022"] for row in csv.DictReader(f)}
    taxonomy = load_taxonomy()
    assert len(regions) == 8
    assert set(taxonomy.regions) == regions
    for region in regions:
        assert taxonomy.articulador(region), region


def test_lookups() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy is load_taxonomy()  # cached
    theme = taxonomy.get("proyectos")
    assert isinstance(theme, Theme) and theme.label == "Proyectos, banco de proyectos y regalías"
    assert taxonomy.get("no_existe") is None
    assert taxonomy.articulador("Pacífico") == taxonomy.articulador("pacifico") == taxonomy.articulador("PACIFICO")
    assert taxonomy.articulador("Llanos Orinoquia") == taxonomy.articulador("Llanos-Orinoquía")
    assert taxonomy.articulador("Atlántida") is None


def test_load_from_another_file(tmp_path: Path) -> None:
    path = tmp_path / "temas.yaml"
    path.write_text(
        "themes:\n"
        "  - {id: agua, label: Agua potable, keywords: [acueducto, agua potable]}\n"
        "  - {id: otro, label: Otro, catch_all: true, keywords: [otro tema]}\n"
        "regions: {Caribe: Ana}\n",
        encoding="utf-8",
    )
    taxonomy = load_taxonomy(path)
    assert isinstance(taxonomy, Taxonomy) and taxonomy.ids == ("agua", "otro")
    assert taxonomy.articulador("Caribe") == "Ana" and taxonomy.get("agua").direccion_tecnica is None  # type: ignore[union-attr]
    assert KeywordClassifier(taxonomy).classify("se daño el acueducto") == [("agua", 0.5)]


@pytest.mark.parametrize(
    "text",
    [
        "themes: [{label: Sin id}]",
        "themes:\n  - {id: a, label: A}\n  - {id: a, label: B}",
        "themes: [{id: a, label: A, keywords: [de la]}]",
        "themes: [{id: a, label: A}]\nregions: {Caribe: {articulador: ''}}",
        "temas: []",
        "themes: [{id: a, label: A, keywords: ['ar*']}]",
    ],
)
def test_invalid_taxonomies_are_rejected(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError):
        load_taxonomy(path)


# ---------------------------------------------------------------- classifier


def test_keyword_classifier_is_a_theme_classifier(classifier: KeywordClassifier) -> None:
    assert isinstance(classifier, ThemeClassifier)


def test_cases_cover_every_theme() -> None:
    covered: dict[str, int] = {}
    for case in CASES["cases"]:
        covered[case["first"]] = covered.get(case["first"], 0) + 1
    assert all(covered.get(theme_id, 0) >= 3 for theme_id in THEME_IDS), covered


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: c["text"][:40])
def test_first_theme(classifier: KeywordClassifier, case: dict) -> None:
    result = classifier.classify(case["text"])
    assert result, f"no theme for {case['text']!r}"
    assert result[0][0] == case["first"], (result, classifier.explain(case["text"]))
    for also in case.get("also", []):
        assert also in dict(result), (also, result)


@pytest.mark.parametrize("text", CASES["none"])
def test_no_theme(classifier: KeywordClassifier, text: str) -> None:
    assert classifier.classify(text) == []


def test_result_shape(classifier: KeywordClassifier) -> None:
    text = "ayuda con el plan indicativo, la mga, el pot, el poai y la rendicion de cuentas"
    result = classifier.classify(text)
    assert len(result) == 3
    scores = [s for _, s in result]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert len({t for t, _ in result}) == 3
    # Equal scores keep the order of mention.
    assert [t for t, _ in result] == ["plan_indicativo", "rendicion_cuentas", "proyectos"]


def test_phrases_score_higher_than_words(classifier: KeywordClassifier) -> None:
    word = dict(classifier.classify("ayuda con el pot"))["ordenamiento_territorial"]
    phrase = dict(classifier.classify("ayuda con el plan de ordenamiento"))["ordenamiento_territorial"]
    long_phrase = dict(classifier.classify("ayuda con el marco fiscal de mediano plazo"))["planeacion_financiera"]
    assert word < phrase < long_phrase <= 1.0


def test_longest_overlapping_match_wins(classifier: KeywordClassifier) -> None:
    # "metas del plan" (plan indicativo) is inside "seguimiento a las metas del plan".
    assert [t for t, _ in classifier.classify("seguimiento a las metas del plan")] == ["seguimiento_pdt"]
    assert [t for t, _ in classifier.classify("metas del plan")] == ["plan_indicativo"]


def test_words_match_whole_words_only(classifier: KeywordClassifier) -> None:
    # "pot" inside "potable", "tic" inside "politica", "rap" inside "rapido", "mga" inside "amga".
    assert classifier.classify("el agua potable y la politica de vivienda, rapido") == []


def test_folding(classifier: KeywordClassifier) -> None:
    expected = [("proyectos", 0.8)]
    for text in ("BANCO DE PROYECTOS", "bancos de proyecto", "Banco  de   Proyectos!!", "banco proyectos"):
        assert classifier.classify(text) == expected, text
    assert classifier.classify("Rendición") == classifier.classify("rendicion") == [("rendicion_cuentas", 0.5)]
    assert classifier.classify("E.O.T.") == [("ordenamiento_territorial", 0.5)]


def test_typos_match_with_a_lower_score(classifier: KeywordClassifier) -> None:
    exact = dict(classifier.classify("ayuda con la conectividad"))["conectividad_digital"]
    typo = dict(classifier.classify("ayuda con la conectibidad"))["conectividad_digital"]
    assert 0 < typo < exact
    assert [m.fuzzy for m in classifier.explain("seguimeinto")] == [True]
    # Short words are never corrected, nor real words one edit from a keyword.
    assert classifier.classify("por favor") == []
    assert classifier.classify("las transferencias del sgp") == []
    assert classifier.classify("la apropiacion inicial") == []


def test_prefix_keywords(classifier: KeywordClassifier) -> None:
    for text in ("armonizar", "armonizamos", "armonización", "Armonizo"):
        assert classifier.classify(text) == [("armonizacion_presupuestal", 0.5)], text


def test_weak_keywords_only_tip_the_balance(classifier: KeywordClassifier) -> None:
    assert classifier.classify("dudas con el pdt") == [("formulacion_pdt", 0.25)]
    # A real theme word outranks the generic "plan de desarrollo".
    assert classifier.classify("evaluacion, plan de desarrollo")[0][0] == "seguimiento_pdt"
    assert classifier.classify("el presupuesto")[0] == ("planeacion_financiera", 0.25)


def test_catch_all_only_alone(classifier: KeywordClassifier) -> None:
    assert classifier.classify("otro tema") == [("otro", 0.8)]
    assert [t for t, _ in classifier.classify("otro tema: la mga")] == ["proyectos"]
    assert classifier.classify("queremos trabajar con otros municipios") == []


def test_thresholds() -> None:
    strict = KeywordClassifier(load_taxonomy(), min_score=0.6, max_themes=1)
    assert strict.classify("ayuda con el pot") == []
    assert strict.classify("plan de ordenamiento y catastro, tambien la mga") == [("ordenamiento_territorial", 1.0)]


def test_explain(classifier: KeywordClassifier) -> None:
    [match] = classifier.explain("tenemos problemas con el banco de proyectos")
    assert (match.theme, match.keyword, match.score, match.fuzzy) == ("proyectos", "banco de proyectos", 0.8, False)



"""The shipped questionnaires: they load, keep the canonical names and stored values, and stay tidy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from surveys import conditions
from surveys.schema import CHOICE_TYPES, QType, Questionnaire, builtin, digit_conflicts, dump_yaml, load_yaml

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

SHIPPED = ("monitoreo360", "sistematizacion", "registro", "solicitud")

RATING = ("1", "2", "3", "4", "5")
ASPECT = (*RATING, "no_aplica")  # an aspect may not apply (the KPT unknown, no virtual sessions): never a number
SCALE = ("muy_mala", "mala", "regular", "buena", "excelente", "no_aplica")  # numbered like the 1–5 ratings
YES_NO = ("si", "no")
YES_NO_PARTIAL = ("si", "no", "parcialmente")
CARGO = ("secretario", "jefe", "otro")
THEMES = (  # the theme taxonomy (bot/helpdesk/themes.yaml), in this order
    "formulacion_pdt", "plan_indicativo", "armonizacion_presupuestal", "planeacion_financiera", "seguimiento_pdt",
    "proyectos", "rendicion_cuentas", "agendas_regionales", "ordenamiento_territorial", "gobierno_abierto",
    "conectividad_digital", "otro",
)

# The Monitoreo 360 interview, in interview order: (name, type, stored values or None for free text).
MONITOREO360: list[tuple[str, QType, tuple[str, ...] | None]] = [
    ("consentimiento", QType.CONSENT, YES_NO),
    ("entidad", QType.ENTITY, None),
    ("cargo", QType.SELECT_ONE, CARGO),
    ("puntaje_general", QType.RATING, RATING),
    ("valoracion_general", QType.TEXT, None),
    ("aspecto_oportunidad", QType.RATING, ASPECT),
    ("aspecto_materiales", QType.RATING, ASPECT),
    ("aspecto_virtualidad", QType.RATING, ASPECT),
    ("aspecto_profundidad", QType.RATING, ASPECT),
    ("aspecto_kpt", QType.RATING, ASPECT),
    ("aspecto_asesor", QType.RATING, ASPECT),
    ("tema_plan_indicativo", QType.SCALE, SCALE),
    ("tema_armonizacion", QType.SCALE, SCALE),
    ("tema_seguimiento", QType.SCALE, SCALE),
    ("contribuye_articulacion", QType.YES_NO_PARTIAL, YES_NO_PARTIAL),
    ("porque_articulacion", QType.TEXT, None),
    ("contribuye_necesidades", QType.YES_NO_PARTIAL, YES_NO_PARTIAL),
    ("porque_necesidades", QType.TEXT, None),
    ("contribuye_capacidades", QType.YES_NO_PARTIAL, YES_NO_PARTIAL),
    ("porque_capacidades", QType.TEXT, None),
    ("demanda_temas", QType.SELECT_MULTIPLE, THEMES),
    ("demanda_otro", QType.TEXT, None),
    ("contacto_asesor", QType.YES_NO, YES_NO),
    ("sugerencias", QType.TEXT, None),
]

# The Bloque 4 and 5.1 questions as the 2020 Monitoreo 360 informe de percepción words them (Gráficos 16, 18, 20, 22).
VERBATIM = {
    "contribuye_articulacion":
        "¿La Asistencia técnica contribuye a la articulación de instrumentos de planeación territorial?",
    "contribuye_necesidades":
        "¿La Asistencia Técnica se ajusta a las necesidades y debilidades de las entidades territoriales?",
    "contribuye_capacidades":
        "¿La Asistencia Técnica contribuye al fortalecimiento de las capacidades de la entidad territorial?",
    "demanda_temas": "¿En qué temas necesitará asistencia técnica para la implementación del PDT?",
}


@pytest.fixture(scope="module")
def m360() -> Questionnaire:
    return builtin("monitoreo360")


@pytest.mark.parametrize("name", SHIPPED)
def test_loads(name: str) -> None:
    q = builtin(name)
    assert q.id == name
    assert q.language == "es"
    assert q.version and q.title and q.intro
    assert q.outro or name in ("registro", "solicitud")  # these end with the menu / the ticket code


def test_monitoreo360_canonical_names_types_and_values(m360: Questionnaire) -> None:
    assert [x.name for x in m360.questions] == [name for name, _, _ in MONITOREO360]
    for name, qtype, values in MONITOREO360:
        question = m360.question(name)
        assert question.type is qtype, name
        if values is None:
            assert question.choices is None, name
        else:
            assert tuple(c.name for c in m360.options(question)) == values, name


def test_monitoreo360_details(m360: Questionnaire) -> None:
    q = m360.question
    assert (q("consentimiento").prefill, q("entidad").prefill, q("cargo").prefill) == ("consent", "entity", "cargo")
    assert [c.label for c in m360.options(q("cargo"))] == [
        "Secretario(a) de Planeación", "Jefe(a) de Planeación", "Otro cargo"]
    puntaje = m360.options(q("puntaje_general"))
    assert [c.label for c in puntaje] == ["Muy mala", "Mala", "Regular", "Buena", "Excelente"]
    assert q("puntaje_general").choices == "puntaje"
    assert q("tema_plan_indicativo").choices == "calificacion_tema"
    assert q("demanda_temas").choices == "temas"
    for name, text in VERBATIM.items():
        assert q(name).label == text
    codebooks = {x.name: x.codebook for x in m360.questions if x.codebook}
    assert codebooks == {
        "valoracion_general": "valoracion_general",
        "porque_articulacion": "articulacion",
        "porque_necesidades": "necesidades",
        "porque_capacidades": "capacidades",
        "demanda_otro": "temas",
        "sugerencias": "sugerencias",
    }
    relevant = {x.name: x.relevant for x in m360.questions if x.relevant}
    assert relevant == {
        "porque_articulacion": "${contribuye_articulacion} != ''",
        "porque_necesidades": "${contribuye_necesidades} != ''",
        "porque_capacidades": "${contribuye_capacidades} != ''",
        "demanda_otro": "selected(${demanda_temas}, 'otro')",
        "contacto_asesor": "count-selected(${demanda_temas}) > 0",  # no themes, nothing to contact about
    }
    assert [x.name for x in m360.questions if not x.required] == ["demanda_temas", "sugerencias"]


def test_monitoreo360_blocks(m360: Questionnaire) -> None:
    assert [b.name for b in m360.blocks] == [
        "identificacion", "calificacion_general", "aspectos", "temas", "contribucion", "demanda", "cierre"]
    assert m360.block("aspectos").intro == (
        "Ahora califique de 1 a 5 algunos aspectos de la asistencia. Si alguno no aplica o no lo conoce, escriba "
        "NO APLICA.")  # type: ignore[union-attr]
    by_block = {b.name: [x.name for x in m360.questions if x.block == b.name] for b in m360.blocks}
    assert by_block["identificacion"] == ["consentimiento", "entidad", "cargo"]
    assert by_block["aspectos"] == [n for n, _, _ in MONITOREO360 if n.startswith("aspecto_")]
    assert by_block["cierre"] == ["sugerencias"]
    assert all(x.block for x in m360.questions)


def test_monitoreo360_theme_synonyms_help_matching(m360: Questionnaire) -> None:
    synonyms = {c.name: {s.lower() for s in c.synonyms} for c in m360.choice_lists["temas"]}
    assert "poai" in synonyms["planeacion_financiera"]
    assert "marco fiscal" in synonyms["planeacion_financiera"]
    assert "regalías" in synonyms["proyectos"]
    assert "banco de proyectos" in synonyms["proyectos"]
    assert "pdt" in synonyms["formulacion_pdt"]
    assert all(synonyms[t] for t in THEMES)


def test_sistematizacion() -> None:
    q = builtin("sistematizacion")
    assert [x.name for x in q.questions[:3]] == ["consentimiento", "entidad", "cargo"]
    assert [x.prefill for x in q.questions[:3]] == ["consent", "entity", "cargo"]
    open_questions = q.questions[3:]
    assert [x.label for x in open_questions] == [
        "¿Qué funcionó bien y qué no funcionó?",
        "¿Cuáles fueron los factores claves de éxito?",
        "¿Qué se podría haber hecho de otra manera y por qué?",
        "¿Cuáles son las recomendaciones derivadas de la práctica?",
    ]
    assert all(x.type is QType.TEXT and x.codebook is None and x.required for x in open_questions)


def test_registro() -> None:
    q = builtin("registro")
    assert [(x.name, x.type) for x in q.questions] == [
        ("consentimiento", QType.CONSENT),
        ("entidad", QType.ENTITY),
        ("grupo_valor", QType.SELECT_ONE),  # the next three only for OTRA: a grupo de valor outside DIVIPOLA
        ("entidad_nombre", QType.TEXT),
        ("entidad_sede", QType.TEXT),
        ("nombre", QType.TEXT),
        ("cargo", QType.SELECT_ONE),
    ]
    # A contact already known (imported directory) is asked only what is missing.
    assert [x.prefill for x in q.questions] == ["consent", "entity", None, None, None, "name", "cargo"]
    assert {x.relevant for x in q.questions[2:5]} == {"${entidad} = 'otra'"}
    assert q.question("entidad").outside == "entidad_fuera" and "OTRA" in q.question("entidad").hint
    assert not q.question("nombre").required
    consent = q.question("consentimiento").label
    for must in ("Ley 1581 de 2012", "Monitoreo 360", "informes agregados", "BAJA", "BORRAR MIS DATOS",
                 "Política de tratamiento de datos", "¿Acepta? Responda Sí o No."):
        assert must in consent, must
    assert "Génova, Quindío" in q.question("entidad").label
    # Same cargo list everywhere, so the contact's cargo prefills every survey.
    assert q.choice_lists["cargo"] == builtin("monitoreo360").choice_lists["cargo"]


@pytest.mark.parametrize("name", SHIPPED)
def test_conditions_clean(name: str) -> None:
    assert conditions.check(builtin(name)) == []


@pytest.mark.parametrize("name", SHIPPED)
def test_yaml_dump_load_identical(name: str, tmp_path: Path) -> None:
    q = builtin(name)
    path = tmp_path / f"{name}.yaml"
    dump_yaml(q, path)
    assert load_yaml(path) == q


@pytest.mark.parametrize("name", SHIPPED)
def test_texts_are_tidy_and_short(name: str) -> None:
    """Phone-sized, no stray whitespace (it would not survive a spreadsheet round trip), stable names."""
    q = builtin(name)
    texts = [q.title, q.intro, q.outro]
    texts += [t for b in q.blocks for t in (b.label, b.intro)]
    texts += [t for x in q.questions for t in (x.label, x.hint)]
    texts += [c.label for options in q.choice_lists.values() for c in options]
    for text in filter(None, texts):
        assert text == text.strip(), repr(text)
    for x in q.questions:
        limit = 600 if x.type is QType.CONSENT else 200  # the habeas data notice is the one long message
        assert len(x.label) + len(x.hint or "") <= limit, x.name
        if x.type in CHOICE_TYPES:
            assert len(q.options(x)) <= 12, x.name
    for options in q.choice_lists.values():
        for c in options:
            assert c.name.isascii() and " " not in c.name, c.name
            assert len(c.label) <= 70, c.label


@pytest.mark.parametrize("name", SHIPPED)
def test_a_digit_means_the_same_on_every_rating_question(name: str) -> None:
    """"4" is Buena on the 1–5 aspects and on the themes (their options are numbered in the same
    direction); the questions that take a Sí/No without buttons say so."""
    q = builtin(name)
    assert digit_conflicts(q) == []
    for x in q.questions:
        if x.type in (QType.CONSENT, QType.YES_NO):
            assert "Sí o No" in x.label, x.name


def test_a_scale_numbered_the_other_way_is_reported() -> None:
    m360 = builtin("monitoreo360")
    flipped = dict(m360.choice_lists, calificacion_tema=tuple(reversed(m360.choice_lists["calificacion_tema"][:5]))
                   + m360.choice_lists["calificacion_tema"][5:])
    problems = digit_conflicts(dataclasses.replace(m360, choice_lists=flipped))
    assert "tema_plan_indicativo: 4 is 'Mala' here but 'buena' in puntaje_general" in problems

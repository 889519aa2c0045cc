"""XLSForm interop: exact round trips, pyxform conversion, KoBo-authored imports and clear rejections."""

from __future__ import annotations

import dataclasses
from io import BytesIO
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from surveys.schema import Block, Choice, QType, Question, Questionnaire, builtin
from surveys.xlsform import XLSFormError, from_xlsform, to_xform, to_xlsform

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

SHIPPED = ("monitoreo360", "sistematizacion", "registro", "solicitud")
ES = "Español (es)"


def _workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def _sheet(path: Path, name: str) -> list[list[Any]]:
    wb = openpyxl.load_workbook(path)
    return [list(r) for r in wb[name].iter_rows(values_only=True)]


# ---------------------------------------------------------------- export / round trip


@pytest.mark.parametrize("name", SHIPPED)
def test_round_trip_identical(name: str, tmp_path: Path) -> None:
    q = builtin(name)
    path = tmp_path / f"{name}.xlsx"
    to_xlsform(q, path)
    assert from_xlsform(path) == q


@pytest.mark.parametrize("name", SHIPPED)
def test_pyxform_converts_the_exported_file(name: str, tmp_path: Path) -> None:
    q = builtin(name)
    path = tmp_path / f"{name}.xlsx"
    to_xlsform(q, path)
    xform = to_xform(path)
    assert xform.startswith("<?xml") and "<h:html" in xform
    assert f'id="{q.id}"' in xform and f'version="{q.version}"' in xform
    for question in q.questions:
        assert f"/{question.name}" in xform
    assert to_xform(q) == xform  # in memory or through a file: same XForm


def test_xform_keeps_skip_logic_and_groups() -> None:
    xform = to_xform(builtin("monitoreo360"))
    assert "relevant=\"selected( /data/demanda/demanda_temas , 'otro')\"" in xform
    assert "relevant=\" /data/contribucion/contribuye_articulacion  != ''\"" in xform
    assert '<bind nodeset="/data/cierre/sugerencias" type="string"/>' in xform  # optional: no required
    assert '<select ref="/data/demanda/demanda_temas"' in xform
    assert "<group ref=\"/data/aspectos\">" in xform


def test_export_layout(tmp_path: Path) -> None:
    path = tmp_path / "m.xlsx"
    to_xlsform(builtin("monitoreo360"), path)
    survey = _sheet(path, "survey")
    header = survey[0]
    assert header[:6] == ["type", "name", f"label::{ES}", f"hint::{ES}", "required", "relevant"]
    assert {"m360_type", "m360_codebook", "m360_prefill", "m360_intro"} <= set(header)
    rows = [dict(zip(header, r, strict=True)) for r in survey[1:]]
    by_name = {r["name"]: r for r in rows if r["name"]}
    assert rows[0]["type"] == "begin_group" and rows[0]["name"] == "identificacion"
    assert by_name["aspectos"]["m360_intro"].startswith("Ahora califique de 1 a 5 algunos aspectos de la asistencia.")
    types = {n: (r["type"], r["m360_type"]) for n, r in by_name.items()}
    assert types["consentimiento"] == ("select_one si_no", "consent")
    assert types["entidad"] == ("text", "entity")
    assert types["puntaje_general"] == ("select_one puntaje", "rating")
    assert types["tema_seguimiento"] == ("select_one calificacion_tema", "scale")
    assert types["contribuye_necesidades"] == ("select_one si_no_parcial", "yes_no_partial")
    assert by_name["demanda_temas"]["type"] == "select_multiple temas"
    assert by_name["valoracion_general"]["m360_codebook"] == "valoracion_general"
    assert by_name["cargo"]["m360_prefill"] == "cargo"
    assert by_name["sugerencias"]["required"] is None and by_name["valoracion_general"]["required"] == "yes"
    assert sum(r["type"] == "begin_group" for r in rows) == sum(r["type"] == "end_group" for r in rows) == 7
    choices = _sheet(path, "choices")
    assert choices[0] == ["list_name", "name", f"label::{ES}", "m360_synonyms"]
    assert ["puntaje", "1", "Muy mala", "pésima;pesima"] in choices
    settings = _sheet(path, "settings")
    assert settings[0] == ["form_id", "version", "form_title", "default_language", "m360_intro", "m360_outro"]
    assert settings[1][:4] == ["monitoreo360", "2026.11", "Monitoreo 360 — Asistencia técnica territorial", ES]


def _edge_case_questionnaire() -> Questionnaire:
    return Questionnaire(
        id="prueba",
        version="7",
        title="Prueba",
        language="en",
        questions=(
            Question(name="suelta", type=QType.TEXT, label="=no es una fórmula", hint="línea 1\nlínea 2"),
            Question(name="escala", type=QType.RATING, label="Rate", choices="cero_diez", block="b"),
            Question(name="multi", type=QType.SELECT_MULTIPLE, label="Pick", choices="abc", block="b",
                     required=False, relevant="${escala} >= 7 or ${suelta} = ''"),
            Question(name="fuera", type=QType.YES_NO, label="  espacios  ", choices="sn"),
        ),
        choice_lists={
            "cero_diez": tuple(Choice(name=str(n), label=str(n)) for n in range(11)),
            "abc": (Choice("a", "A", ("uno", "primero")), Choice("b", "B"), Choice("c", "C")),
            "sn": (Choice("si", "Sí"), Choice("no", "No")),
            "sin_uso": (Choice("x", "X"),),
        },
        blocks=(Block(name="b", label="Bloque"),),
    )


def test_round_trip_edge_cases(tmp_path: Path) -> None:
    q = _edge_case_questionnaire()
    buf = BytesIO()
    to_xlsform(q, buf)
    buf.seek(0)
    assert from_xlsform(buf) == q
    path = tmp_path / "prueba.xlsx"
    to_xlsform(q, path)
    assert _sheet(path, "survey")[0][2] == "label::English (en)"
    assert "<value>=no es una fórmula</value>" in to_xform(path)


@pytest.mark.parametrize(
    ("blocks", "fuera_block", "multi_block", "message"),
    [
        (("b", "vacio"), None, "b", "blocks without questions"),  # an empty group has no position
        (("c", "b"), "c", "b", "declared in the order"),  # groups follow the question order
        (("b",), "b", None, "split"),  # a group is one contiguous run of rows
    ],
)
def test_export_refuses_unrepresentable_blocks(
    blocks: tuple[str, ...], fuera_block: str | None, multi_block: str | None, message: str
) -> None:
    q = _edge_case_questionnaire()
    new_block = {"fuera": fuera_block, "multi": multi_block}
    questions = tuple(dataclasses.replace(x, block=new_block.get(x.name, x.block)) for x in q.questions)
    q = dataclasses.replace(q, questions=questions, blocks=tuple(Block(b, b.upper()) for b in blocks))
    with pytest.raises(XLSFormError, match=message):
        to_xlsform(q, BytesIO())


# ---------------------------------------------------------------- KoBo-authored import

KOBO_SURVEY = [
    ["type", "name", f"label::{ES}", "label::English (en)", f"hint::{ES}", "required", "relevant", "constraint",
     "parameters", "appearance", "calculation"],
    ["start", "start"],
    ["end", "end"],
    ["deviceid", "deviceid"],
    ["note", "bienvenida", "Bienvenido al monitoreo", "Welcome"],
    ["begin group", "datos", "Datos", "Data"],
    ["select_one sino", "consentimiento", "¿Acepta participar?", "Consent?", None, "yes"],
    ["text", "entidad", "¿Qué entidad?", "Entity?", "Municipio y departamento", "TRUE"],
    ["select_one cargos", "cargo", "¿Cargo?", "Role?", None, "true()"],
    ["end group"],
    ["integer", "puntaje", "Puntaje de 1 a 5", "Score", None, "yes", None, ". >= 1 and . <= 5"],
    ["range", "recomendaria", "¿Nos recomendaría? 0 a 10", "NPS", None, None, None, None, "start=0 end=10 step=1"],
    ["select_one cinco", "aspecto", "Aspecto", "Aspect", None, "yes"],
    ["select one spn", "contribuye", "¿Contribuye?", "Contributes?", None, "yes"],
    ["text", "porque", "¿Por qué?", "Why?", None, "yes", "${contribuye} != ''"],
    ["begin_group", "temas_grupo", "Temas", "Themes", None, None, "${consentimiento} = 'si'", None, None,
     "field-list"],
    ["select_one calif", "tema_pi", "Plan indicativo", "Plan", None, "yes"],
    ["select_multiple temas", "demanda", "¿Qué temas?", "Which?", None, "yes"],
    ["text", "demanda_otro", "¿Cuál?", "Which other?", None, "yes", "selected(${demanda}, 'otro')"],
    ["end_group"],
    ["calculate", "total", None, None, None, None, None, None, None, None, "${puntaje} * 2"],
    ["select_one sino", "contacto", "¿Lo contactamos?", "Contact?"],
    ["select_one colores", "color", "¿Color?", "Colour?"],
    [],
    ["text", "sugerencias", "¿Sugerencias?", "Suggestions?", None, "no"],
]
KOBO_CHOICES = [
    ["list name", "name", f"label::{ES}", "label::English (en)"],
    ["sino", "si", "Sí", "Yes"],
    ["sino", "no", "No", "No"],
    ["cargos", "secretario", "Secretario", "Secretary"],
    ["cargos", "otro", "Otro", "Other"],
    ["cinco", 1, "Muy mal", "1"],
    ["cinco", 2, "Mal", "2"],
    ["cinco", 3, "Regular", "3"],
    ["cinco", 4, "Bien", "4"],
    ["cinco", 5, "Muy bien", "5"],
    ["spn", "si", "Sí", "Yes"],
    ["spn", "no", "No", "No"],
    ["spn", "parcialmente", "Parcialmente", "Partly"],
    ["calif", "excelente", "Excelente", "Excellent"],
    ["calif", "buena", "Buena", "Good"],
    ["calif", "mala", "Mala", "Bad"],
    ["calif", "no_aplica", "No aplica", "N/A"],
    ["temas", "plan_indicativo", "Plan indicativo", "Plan"],
    ["temas", "otro", "Otro", "Other"],
    ["colores", "rojo", "Rojo", "Red"],
    ["colores", "azul", "Azul", "Blue"],
]
KOBO_SETTINGS = [
    ["form_title", "form_id", "version", "default_language", "style"],
    ["Encuesta KoBo", "encuesta_kobo", 3, ES, "pages"],
]


@pytest.fixture
def kobo_form(tmp_path: Path) -> Path:
    return _workbook(tmp_path / "kobo.xlsx", {"survey": KOBO_SURVEY, "choices": KOBO_CHOICES,
                                              "settings": KOBO_SETTINGS})


def test_kobo_form_converts_with_pyxform(kobo_form: Path) -> None:
    assert "<h:html" in to_xform(kobo_form)  # the fixture is a valid XLSForm in the first place


def test_import_kobo_form_infers_types(kobo_form: Path) -> None:
    q = from_xlsform(kobo_form)
    assert (q.id, q.version, q.title, q.language) == ("encuesta_kobo", "3", "Encuesta KoBo", "es")
    assert q.intro is None and q.outro is None
    types = {x.name: (x.type, x.choices) for x in q.questions}
    assert types == {
        "consentimiento": (QType.CONSENT, "sino"),
        "entidad": (QType.ENTITY, None),
        "cargo": (QType.SELECT_ONE, "cargos"),
        "puntaje": (QType.RATING, "escala_1_5"),
        "recomendaria": (QType.RATING, "escala_0_10"),
        "aspecto": (QType.RATING, "cinco"),
        "contribuye": (QType.YES_NO_PARTIAL, "spn"),
        "porque": (QType.TEXT, None),
        "tema_pi": (QType.SCALE, "calif"),
        "demanda": (QType.SELECT_MULTIPLE, "temas"),
        "demanda_otro": (QType.TEXT, None),
        "contacto": (QType.YES_NO, "sino"),
        "color": (QType.SELECT_ONE, "colores"),
        "sugerencias": (QType.TEXT, None),
    }
    # Synthesized lists for numeric ratings; names of numeric cells read as text.
    assert [c.name for c in q.choice_lists["escala_1_5"]] == ["1", "2", "3", "4", "5"]
    assert len(q.choice_lists["escala_0_10"]) == 11
    assert [c.name for c in q.choice_lists["cinco"]] == ["1", "2", "3", "4", "5"]
    # Spanish columns are picked over English ones.
    assert q.question("consentimiento").label == "¿Acepta participar?"
    assert q.choice_lists["sino"][0] == Choice("si", "Sí")
    assert q.question("entidad").hint == "Municipio y departamento"
    # XLSForm's default is optional; yes/TRUE/true() are required.
    required = {x.name for x in q.questions if x.required}
    assert required == {"consentimiento", "entidad", "cargo", "puntaje", "aspecto", "contribuye", "porque",
                        "tema_pi", "demanda", "demanda_otro"}
    # Groups become blocks; a group's condition is folded into its questions'.
    assert [(b.name, b.label) for b in q.blocks] == [("datos", "Datos"), ("temas_grupo", "Temas")]
    assert q.question("cargo").block == "datos" and q.question("contacto").block is None
    assert q.question("tema_pi").relevant == "${consentimiento} = 'si'"
    assert q.question("demanda_otro").relevant == "(${consentimiento} = 'si') and (selected(${demanda}, 'otro'))"
    assert q.question("porque").relevant == "${contribuye} != ''"


def test_import_kobo_form_round_trips_after_import(kobo_form: Path, tmp_path: Path) -> None:
    q = from_xlsform(kobo_form)
    path = tmp_path / "again.xlsx"
    to_xlsform(q, path)
    assert from_xlsform(path) == q
    assert "<h:html" in to_xform(path)


@pytest.mark.parametrize("name", SHIPPED)
def test_import_without_m360_columns_infers_the_same_types(name: str, tmp_path: Path) -> None:
    """What KoBo users would hand back if they dropped our columns: types survive, extras are lost."""
    q = builtin(name)
    path = tmp_path / "full.xlsx"
    to_xlsform(q, path)
    sheets = {s: _sheet(path, s) for s in ("survey", "choices", "settings")}
    for s, rows in sheets.items():
        keep = [i for i, h in enumerate(rows[0]) if not str(h).startswith("m360_")]
        sheets[s] = [[r[i] for i in keep] for r in rows]
    plain = from_xlsform(_workbook(tmp_path / "plain.xlsx", sheets))
    assert [(x.name, x.type, x.choices, x.required, x.relevant, x.block) for x in plain.questions] == [
        (x.name, x.type, x.choices, x.required, x.relevant, x.block) for x in q.questions]
    assert all(x.codebook is None and x.prefill is None for x in plain.questions)


def test_import_minimal_form_without_settings(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "mi_form.xlsx", {
        "Survey": [["Type", "Name", "Label"], ["select_one yn", "acepta", "¿Acepta?"], ["text", "nota", "Nota"]],
        "Choices": [["list_name", "name", "label"], ["yn", "si", "Sí"], ["yn", "no", "No"]],
    })
    q = from_xlsform(path)
    assert (q.id, q.version, q.title, q.language) == ("mi_form", "1", "mi_form", "es")
    assert [(x.name, x.type, x.required) for x in q.questions] == [
        ("acepta", QType.YES_NO, False), ("nota", QType.TEXT, False)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["geopoint", "ubicacion", "¿Dónde está?"], r"survey row 3 \(ubicacion\): type 'geopoint' is not supported"),
        (["image", "foto", "Foto"], r"row 3 \(foto\): type 'image' is not supported"),
        (["begin_repeat", "hijos", "Hijos"], r"row 3 \(hijos\): type 'begin_repeat' is not supported"),
        (["integer", "edad", "Edad"], r"row 3 \(edad\): type 'integer' is not supported"),
        (["integer", "edad", "Edad", ". >= 0 and . <= 120"], r"row 3 \(edad\): type 'integer' is not supported"),
        (["select_one yn or_other", "x", "X"], r"row 3 \(x\): type 'select_one yn or_other' is not supported"),
        (["select_one_from_file municipios.csv", "m", "M"], "row 3 \\(m\\): type .* is not supported"),
        (["select_one falta", "x", "X"], r"row 3 \(x\): choice list 'falta' is not in the choices sheet"),
        (["text", "sin_etiqueta"], r"row 3 \(sin_etiqueta\): no label"),
        (["text", None, "Sin nombre"], "row 3: a question needs a name"),
        ([None, "sin_tipo", "X"], r"row 3 \(sin_tipo\): no type"),
        (["end_group"], "row 3: end_group without begin_group"),
        (["begin_group", "abierto", "Abierto"], "group 'abierto' has no end_group"),
        (["text", "x", "X", None, "${total} > 1"], r"relevant refers to unknown question \$\{total\}"),
        (["text", "x", "X", None, "regex(${acepta}, 'a')"], "unknown function"),
        (["text", "acepta", "X"], "duplicate question names"),
    ],
)
def test_import_rejects_with_a_clear_error(tmp_path: Path, row: list[Any], message: str) -> None:
    path = _workbook(tmp_path / "malo.xlsx", {
        "survey": [["type", "name", "label", "constraint", "relevant"], ["select_one yn", "acepta", "¿Acepta?"], row],
        "choices": [["list_name", "name", "label"], ["yn", "si", "Sí"], ["yn", "no", "No"]],
    })
    with pytest.raises(XLSFormError, match=message):
        from_xlsform(path)


def test_import_rejects_non_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "form.xlsx"
    path.write_text("type,name,label\n", encoding="utf-8")
    with pytest.raises(XLSFormError, match="cannot read"):
        from_xlsform(path)


def test_to_xform_reports_pyxform_errors(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "roto.xlsx", {
        "survey": [["type", "name", "label", "relevant"], ["text", "a", "A", "${no_existe} = 'x'"]],
    })
    with pytest.raises(XLSFormError, match="pyxform rejected"):
        to_xform(path)

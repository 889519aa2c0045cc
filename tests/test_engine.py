"""Table tests of the pure interview engine (cases in tests/data/engine_cases.yaml)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from surveys.engine import AnswerCleared, AnswerSet, Finished, FlowState, Interviewer
from surveys.entities import EntityIndex
from surveys.pending import Choose, Confirm, EntityConfirm, EntityPick, PendingKind, Suggestion
from surveys.schema import builtin, from_dict

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

CASES = yaml.safe_load((Path(__file__).parent / "data" / "engine_cases.yaml").read_text(encoding="utf-8"))
ENTITIES = EntityIndex.from_reference()

# One question of every type, with both kinds of condition.
TYPES = from_dict(yaml.safe_load("""
id: types
version: "1"
title: Tipos
outro: Fin.
choice_lists:
  si_no: [{name: si, label: Sí}, {name: "no", label: "No"}]
  si_no_parcial: [{name: si, label: Sí}, {name: "no", label: "No"}, {name: parcialmente, label: Parcialmente}]
  cargo: [{name: secretario, label: Secretario(a)}, {name: jefe, label: Jefe(a)}, {name: otro, label: Otro}]
  temas: [{name: plan_indicativo, label: Plan indicativo}, {name: armonizacion, label: Armonización},
          {name: proyectos, label: Proyectos}, {name: otro, label: Otro}]
  puntaje: [{name: "1", label: Muy mala}, {name: "2", label: Mala}, {name: "3", label: Regular},
            {name: "4", label: Buena}, {name: "5", label: Excelente}]
  escala: [{name: excelente, label: Excelente}, {name: buena, label: Buena}, {name: regular, label: Regular},
           {name: mala, label: Mala}, {name: muy_mala, label: Muy mala}, {name: no_aplica, label: No aplica}]
questions:
  - {name: consent, type: consent, label: "¿Acepta?", choices: si_no, prefill: consent}
  - {name: entity, type: entity, label: "¿De dónde escribe?", prefill: entity}
  - {name: cargo, type: select_one, label: "¿Qué cargo tiene?", choices: cargo, prefill: cargo}
  - {name: temas, type: select_multiple, label: "¿Qué temas?", choices: temas, required: false}
  - name: otro_tema
    type: text
    label: "¿Cuál otro?"
    relevant: "selected(${temas}, 'otro') or selected(${temas}, 'proyectos')"
  - {name: puntaje, type: rating, label: "¿Cómo califica?", choices: puntaje}
  - {name: tema, type: scale, label: "¿Cómo le fue en el tema?", choices: escala}
  - {name: sirvio, type: yes_no, label: "¿Le sirvió?", choices: si_no}
  - {name: contribuye, type: yes_no_partial, label: "¿Contribuye?", choices: si_no_parcial}
  - {name: porque, type: text, label: "¿Por qué?", relevant: "${contribuye} != 'si'"}
"""))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_engine_case(case: dict[str, Any]) -> None:
    q = TYPES if case["questionnaire"] == "types" else builtin(case["questionnaire"])
    engine = Interviewer(q, ENTITIES)
    step = engine.start(case.get("prefill"))
    state, stored = step.state, _apply({}, step.events)
    for item in case["steps"]:
        if "command" in item:
            step = engine.back(state) if item["command"] == "back" else engine.skip(state)
        else:
            step = engine.reply(state, item["say"])
        state, stored = step.state, _apply(stored, step.events)
        text = "\n".join(m.text for m in step.messages)
        if "expect" in item:
            assert item["expect"] in text, (item, text)
        for name, value in (item.get("answers") or {}).items():
            assert state.answers.get(name) == value, (item, name)
        if "status" in item:
            assert state.status == item["status"]
        assert stored == state.answers  # the events are a faithful record of the state
    for name, value in (case.get("answers") or {}).items():
        assert state.answers.get(name) == value, name
    assert FlowState.from_json(state.to_json()) == state


def _apply(stored: dict[str, Any], events: list[Any]) -> dict[str, Any]:
    stored = dict(stored)
    for event in events:
        if isinstance(event, AnswerSet):
            stored[event.question] = event.value
        elif isinstance(event, AnswerCleared):
            stored.pop(event.question, None)
        else:
            assert isinstance(event, Finished)
    return stored


def test_prefill_with_an_invalid_value_is_asked() -> None:
    engine = Interviewer(TYPES, ENTITIES)
    step = engine.start({"consent": "si", "entity": "99999", "cargo": "alcalde"})
    assert step.state.current == "entity" and "entity" not in step.state.answers


def test_rendering_numbers_options_and_marks_optional() -> None:
    engine = Interviewer(TYPES, ENTITIES)
    step = engine.start({"consent": "si", "entity": "05001", "cargo": "jefe"})
    message = step.messages[-1]
    assert "1. Plan indicativo" in message.text and "OMITIR" in message.text
    assert message.options == ()  # multiple choice: typed, not a single button
    step = engine.reply(step.state, "2")
    rating = step.messages[-1]
    assert "1 Muy mala · 2 Mala · 3 Regular · 4 Buena · 5 Excelente" in rating.text
    assert [(o.label, o.reply) for o in rating.options][0] == ("Muy mala", "1")


def test_a_rating_button_sends_its_value_and_a_pick_offers_buttons() -> None:
    """On a 0–10 scale the button "Nada probable" sends 0, not its position; a reply that fits two
    values gets one button per value, and pressing one stores it."""
    q = from_dict(yaml.safe_load("""
id: nps
version: "1"
title: NPS
choice_lists:
  nps: [{name: "0", label: Nada probable}, {name: "10", label: Muy probable}]
  puntaje: [{name: "1", label: Muy mala}, {name: "2", label: Mala}, {name: "3", label: Regular},
            {name: "4", label: Buena}, {name: "5", label: Excelente}]
questions:
  - {name: nps, type: rating, label: "¿Nos recomendaría?", choices: nps}
  - {name: puntaje, type: rating, label: "¿Cómo califica?", choices: puntaje}
  - {name: fin, type: text, label: "¿Algo más?"}
"""))
    engine = Interviewer(q, ENTITIES)
    step = engine.start()
    assert [(o.label, o.reply) for o in step.messages[-1].options] == [("Nada probable", "0"), ("Muy probable", "10")]
    step = engine.reply(step.state, "0")
    assert step.state.answers["nps"] == 0
    pick = engine.reply(step.state, "muy buena")
    assert [(o.label, o.reply) for o in pick.messages[-1].options] == [("4 (Buena)", "4"), ("5 (Excelente)", "5")]
    done = engine.reply(pick.state, pick.messages[-1].options[1].reply)
    assert done.state.answers["puntaje"] == 5 and done.state.current == "fin"


# ------------------------------------------------------------------ a pending confirmation, as stored

# Flows with a confirmation waiting, exactly as they have been saved on the contact row until now
# (dicts with a "kind"): each is what the turn before wrote, and what the reply after must read.
PLAN = ["plan_indicativo"]
STORED_PENDING: list[tuple[str, Any, str, date | None, str, dict[str, Any], Any, str, AnswerSet]] = [
    ("confirm", TYPES, "buenisima", None,
     "puntaje", {"answers": {"consent": "si", "entity": "63001", "cargo": "jefe"}, "history": ["entity", "cargo"]},
     {"kind": "confirm", "value": 5, "raw": "buenisima"}, "¿Quiso decir *5 (Excelente)*?",
     AnswerSet("puntaje", 5, "buenisima")),
    # A date keeps the day it was read against: "el viernes" is read back without a year, months later too.
    ("confirm_date", builtin("solicitud"), "el viernes", date(2026, 11, 10),
     "fecha_limite", {"answers": {"necesidad": "asistencia", "urgente": "si"}, "history": ["necesidad", "urgente"]},
     {"kind": "confirm", "value": "2026-11-13", "raw": "el viernes", "today": "2026-11-10"},
     "¿Para el *viernes 13 de noviembre*?", AnswerSet("fecha_limite", "2026-11-13", "el viernes")),
    ("suggestion", builtin("solicitud"), "Necesitamos ayuda con el plan indicativo", None,
     "temas", {"answers": {"necesidad": "Necesitamos ayuda con el plan indicativo"}, "history": ["necesidad"]},
     {"kind": "suggestion", "value": PLAN, "raw": "Necesitamos ayuda con el plan indicativo"},
     "sobre: *Plan indicativo*. ¿Es correcto?", AnswerSet("temas", PLAN, "Necesitamos ayuda con el plan indicativo")),
    ("choose", TYPES, "muy buena", None,
     "tema", {"answers": {"consent": "si", "puntaje": 4}, "history": ["puntaje"]},
     {"kind": "choose", "values": ["excelente", "buena"], "raw": "muy buena"}, "¿Quiso decir *Excelente* o *Buena*?",
     AnswerSet("tema", "buena", "muy buena")),
    ("entity_confirm", TYPES, "armenia quindio", None,
     "entity", {"answers": {"consent": "si"}, "history": []},
     {"kind": "entity_confirm", "code": "63001", "raw": "armenia quindio"}, "*Armenia (Quindío)*? Responda Sí o No",
     AnswerSet("entity", "63001", "armenia quindio")),
    ("entity_pick", TYPES, "Armenia", None,
     "entity", {"answers": {"consent": "si"}, "history": []},
     {"kind": "entity_pick", "codes": ["05059", "63001"], "raw": "Armenia"},
     "1. Armenia (Antioquia)\n2. Armenia (Quindío)",
     AnswerSet("entity", "63001", "Armenia")),
]
THEN = {"confirm": "sí", "confirm_date": "Si", "suggestion": "si correcto", "choose": "la segunda",
        "entity_confirm": "sii", "entity_pick": "2"}
RECORDS = {"confirm": Confirm(5, "buenisima"),
           "confirm_date": Confirm("2026-11-13", "el viernes", date(2026, 11, 10)),
           "suggestion": Suggestion(PLAN, "Necesitamos ayuda con el plan indicativo"),
           "choose": Choose(("excelente", "buena"), "muy buena"),
           "entity_confirm": EntityConfirm("63001", "armenia quindio"),
           "entity_pick": EntityPick(("05059", "63001"), "Armenia")}


def _themes(question: Any, source: Any, today: date | None = None) -> Any:
    """A suggester that proposes the themes only (solicitud.yaml also suggests urgency and the deadline)."""
    return PLAN if question.name == "temas" else None


def _stored_flow(q: Any, current: str, before: dict[str, Any], pending: dict[str, Any] | None) -> dict[str, Any]:
    return {"questionnaire": q.key, "status": "en_curso", "current": current, "answers": before["answers"],
            "skipped": [], "history": before["history"], "pending": pending, "failures": 0, "blocks_seen": []}


@pytest.mark.parametrize("case", STORED_PENDING, ids=[c[0] for c in STORED_PENDING])
def test_a_pending_confirmation_stored_as_a_dict_loads_is_written_back_unchanged_and_answered(case: Any) -> None:
    name, q, said, today, current, before, pending, prompt, answer = case
    stored = _stored_flow(q, current, before, pending)
    state = FlowState.from_json(json.loads(json.dumps(stored)))  # as read back from the contact row
    assert state.pending == RECORDS[name] and state.pending is not None
    assert state.pending.kind == pending["kind"] and isinstance(state.pending.kind, PendingKind)
    assert json.dumps(state.to_json()) == json.dumps(stored)  # same keys, same order, same values
    engine = Interviewer(q, ENTITIES, suggester=_themes)
    assert prompt in engine.prompt(state)[0].text
    step = engine.reply(state, THEN[name], today=today)
    assert step.events[0] == answer and step.state.current != current  # taken, and on to the next question


@pytest.mark.parametrize("case", STORED_PENDING, ids=[c[0] for c in STORED_PENDING])
def test_the_engine_writes_a_pending_confirmation_in_the_shape_stored_until_now(case: Any) -> None:
    name, q, said, today, current, before, pending, prompt, answer = case
    engine = Interviewer(q, ENTITIES, suggester=_themes)
    asked = "necesidad" if name == "suggestion" else current  # a suggestion is made when its question comes
    previous = {"answers": {}, "history": []} if name == "suggestion" else before
    state = FlowState.from_json(_stored_flow(q, asked, previous, None))
    step = engine.reply(state, said, today=today)
    assert json.dumps(step.state.to_json()) == json.dumps(_stored_flow(q, current, before, pending))
    assert step.messages[-1].text == engine.prompt(step.state)[0].text


def test_a_pending_confirmation_of_an_unknown_kind_is_refused() -> None:
    stored = _stored_flow(TYPES, "puntaje", {"answers": {}, "history": []}, {"kind": "maybe", "value": 5, "raw": "5"})
    with pytest.raises(ValueError):
        FlowState.from_json(stored)

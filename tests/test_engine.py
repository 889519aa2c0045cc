"""Table tests of the pure interview engine (cases in tests/data/engine_cases.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from surveys.engine import AnswerCleared, AnswerSet, Finished, FlowState, Interviewer
from surveys.entities import EntityIndex
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

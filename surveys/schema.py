"""Questionnaires as data: the types a question can have and the YAML form they are written in.

A questionnaire is an immutable value. The YAML files under ``surveys/questionnaires/`` are the
source of truth (analysts edit them); XLSForm import/export lives in :mod:`surveys.xlsform`.
Every respondent-facing text is in the data, in Spanish.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


class QType(StrEnum):
    """What kind of answer a question takes (and so how a chat reply is parsed)."""

    CONSENT = "consent"  # sí/no; "no" ends the interview politely (estado rechazada)
    ENTITY = "entity"  # a DIVIPOLA entity typed as free text, confirmed
    SELECT_ONE = "select_one"
    SELECT_MULTIPLE = "select_multiple"
    RATING = "rating"  # integer 1–5; choices give the label of each number
    SCALE = "scale"  # labelled scale (excelente … muy mala), may include no_aplica
    YES_NO = "yes_no"
    YES_NO_PARTIAL = "yes_no_partial"
    TEXT = "text"  # open answer, optionally coded with a codebook
    DATE = "date"  # a calendar day written freely ("el viernes", "15/01"), stored ISO, always confirmed


#: Types whose answers are picked from a choice list.
CHOICE_TYPES = frozenset(
    {QType.CONSENT, QType.SELECT_ONE, QType.SELECT_MULTIPLE, QType.RATING, QType.SCALE,
     QType.YES_NO, QType.YES_NO_PARTIAL}
)


@dataclass(frozen=True)
class Choice:
    name: str  # stored value (canonical, stable)
    label: str  # what the respondent reads
    synonyms: tuple[str, ...] = ()  # extra words that select it ("muy bien" → buena)


@dataclass(frozen=True)
class Block:
    name: str
    label: str
    intro: str | None = None  # said once when the interview enters the block


@dataclass(frozen=True)
class Question:
    name: str  # canonical name: export column, API key, XLSForm name
    type: QType
    label: str
    hint: str | None = None
    choices: str | None = None  # name of a list in Questionnaire.choice_lists
    required: bool = True
    relevant: str | None = None  # XLSForm-style condition, e.g. "${contribuye_articulacion} != ''"
    block: str | None = None
    codebook: str | None = None  # open answers coded with this codebook (analysis.coder)
    prefill: str | None = None  # contact field that answers it without asking (consent, entity, cargo)
    # An earlier open question whose answer the host can turn into a proposed answer for this one
    # (e.g. help-desk themes from the need described): the respondent confirms it or picks.
    suggest: str | None = None
    # Entity questions: a choice list of answers outside DIVIPOLA ("OTRA" for a grupo de valor that is
    # not an alcaldía or a gobernación); the whole reply must be one of a choice's words.
    outside: str | None = None

    @property
    def asks_name(self) -> bool:
        """An open question that fills the contact's name ("¿Cuál es su nombre?"): the reply is read as a
        person's name ("me llamo gloria" → "Gloria"), never stored as "si" or "1"."""
        return self.type is QType.TEXT and self.prefill == "name"


@dataclass(frozen=True)
class Questionnaire:
    id: str
    version: str
    title: str
    questions: tuple[Question, ...]
    choice_lists: dict[str, tuple[Choice, ...]] = field(default_factory=dict)
    blocks: tuple[Block, ...] = ()
    intro: str | None = None
    outro: str | None = None
    language: str = "es"

    def __post_init__(self) -> None:
        names = [q.name for q in self.questions]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate question names: {sorted(dupes)}")
        block_names = {b.name for b in self.blocks}
        for q in self.questions:
            if q.type in CHOICE_TYPES and q.choices not in self.choice_lists:
                raise ValueError(f"{q.name}: choice list {q.choices!r} is not defined")
            if q.outside is not None and (q.type is not QType.ENTITY or q.outside not in self.choice_lists):
                raise ValueError(f"{q.name}: outside needs an entity question and a defined choice list")
            if q.block is not None and q.block not in block_names:
                raise ValueError(f"{q.name}: block {q.block!r} is not defined")

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def question(self, name: str) -> Question:
        for q in self.questions:
            if q.name == name:
                return q
        raise KeyError(name)

    def index(self, name: str) -> int:
        for i, q in enumerate(self.questions):
            if q.name == name:
                return i
        raise KeyError(name)

    def options(self, question: Question) -> tuple[Choice, ...]:
        return self.choice_lists.get(question.choices or "", ())

    def block(self, name: str | None) -> Block | None:
        return next((b for b in self.blocks if b.name == name), None)


def question_title(questionnaire: Questionnaire, name: str) -> str:
    """A question's label as an analyst needs it out of the interview's flow: a label several questions
    share ("¿Por qué?") names the question it follows up ("¿Por qué? — ¿La asistencia contribuye …?")."""
    question = questionnaire.question(name)
    if sum(q.label == question.label for q in questionnaire.questions) < 2:
        return question.label
    from surveys import conditions  # conditions imports this module

    parents = sorted(conditions.references(question.relevant), key=questionnaire.index)
    if parents:
        return f"{question.label} — {questionnaire.question(parents[0]).label}"
    return f"{question.label} — {question.hint}" if question.hint else question.label


def digit_conflicts(questionnaire: Questionnaire) -> list[str]:
    """Rating questions on which one digit means different things ("4" Buena on one, Mala on the next).

    A rating's digits are its values; a scale's are the option numbers it is shown with. A respondent
    who typed "4" for Buena six times will type it again: every digit must keep its label across the
    interview (checked by ``m360 questionnaire validate`` and for the shipped questionnaires)."""
    seen: dict[str, tuple[str, str]] = {}  # digit → (label, first question)
    problems: list[str] = []
    for q in questionnaire.questions:
        if q.type not in (QType.RATING, QType.SCALE):
            continue
        for i, choice in enumerate(questionnaire.options(q), 1):
            digit = choice.name.strip() if q.type is QType.RATING else str(i)
            label = " ".join(choice.label.casefold().split())
            if label == digit:
                continue  # a bare number scale ("0".."10") names nothing
            first = seen.setdefault(digit, (label, q.name))
            if first[0] != label:
                problems.append(f"{q.name}: {digit} is {choice.label!r} here but {first[0]!r} in {first[1]}")
    return problems


# ---------------------------------------------------------------- YAML


def from_dict(data: dict[str, Any]) -> Questionnaire:
    lists = {
        list_name: tuple(
            Choice(name=str(c["name"]), label=str(c["label"]), synonyms=tuple(c.get("synonyms", ())))
            for c in choices
        )
        for list_name, choices in (data.get("choice_lists") or {}).items()
    }
    blocks = tuple(Block(name=b["name"], label=b["label"], intro=b.get("intro")) for b in data.get("blocks", ()))
    fields = {f.name for f in dataclasses.fields(Question)}
    questions = []
    for raw in data["questions"]:
        unknown = set(raw) - fields
        if unknown:
            raise ValueError(f"question {raw.get('name')!r}: unknown keys {sorted(unknown)}")
        questions.append(Question(**{**raw, "type": QType(raw["type"])}))
    return Questionnaire(
        id=str(data["id"]),
        version=str(data["version"]),
        title=data["title"],
        language=data.get("language", "es"),
        intro=data.get("intro"),
        outro=data.get("outro"),
        blocks=blocks,
        choice_lists=lists,
        questions=tuple(questions),
    )


def to_dict(q: Questionnaire) -> dict[str, Any]:
    """The YAML shape; defaults are left out so files stay short."""

    def question(x: Question) -> dict[str, Any]:
        out: dict[str, Any] = {"name": x.name, "type": x.type.value, "label": x.label}
        for f in dataclasses.fields(Question):
            value = getattr(x, f.name)
            if f.name not in out and value != f.default:
                out[f.name] = value
        return out

    def choice(c: Choice) -> dict[str, Any]:
        out: dict[str, Any] = {"name": c.name, "label": c.label}
        if c.synonyms:
            out["synonyms"] = list(c.synonyms)
        return out

    data: dict[str, Any] = {"id": q.id, "version": q.version, "title": q.title, "language": q.language}
    if q.intro:
        data["intro"] = q.intro
    if q.outro:
        data["outro"] = q.outro
    if q.blocks:
        data["blocks"] = [{k: v for k, v in dataclasses.asdict(b).items() if v is not None} for b in q.blocks]
    data["choice_lists"] = {k: [choice(c) for c in v] for k, v in q.choice_lists.items()}
    data["questions"] = [question(x) for x in q.questions]
    return data


def load_yaml(path: str | Path) -> Questionnaire:
    with open(path, encoding="utf-8") as fh:
        return from_dict(yaml.safe_load(fh))


def dump_yaml(q: Questionnaire, path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(to_dict(q), fh, allow_unicode=True, sort_keys=False, width=110)


class UnknownQuestionnaire(ValueError):
    """A questionnaire name that is neither shipped nor stored."""


@functools.cache
def builtin_names() -> tuple[str, ...]:
    """The questionnaires shipped with the package (listed once per process)."""
    folder = resources.files("surveys") / "questionnaires"
    return tuple(sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir()
                        if entry.name.endswith(".yaml")))


def builtin(name: str) -> Questionnaire:
    """A questionnaire shipped with the package: ``monitoreo360``, ``sistematizacion``, ``registro``,
    ``solicitud``; ValueError for any other name (it is never used as a path)."""
    if name not in builtin_names():
        raise UnknownQuestionnaire(f"unknown questionnaire {name!r}")
    ref = resources.files("surveys") / "questionnaires" / f"{name}.yaml"
    return from_dict(yaml.safe_load(ref.read_text(encoding="utf-8")))



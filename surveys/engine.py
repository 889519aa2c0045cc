"""The interview engine: (state, inbound text) → (outbound messages, new state, events). Pure.

It never touches the database, the clock or a channel: the host (``bot.service``) loads the
state, calls the engine, stores the events (accepted answers, cleared answers, the end of the
interview) in one transaction and sends the messages. That makes every turn replayable and
lets a crash at any point resume from the last committed state.

Which question comes next is *derived*, not stored: the first question, in order, that is
relevant, unanswered and not skipped. So going back (ATRAS), changing an answer that other
questions depend on, or resuming days later all land on the right question.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from surveys import conditions, formats, parsing
from surveys.messages import Option, Outbound
from surveys.pending import Choose, Confirm, EntityConfirm, EntityPick, Pending, Suggestion, pending_from_json
from surveys.schema import CHOICE_TYPES, QType, Question, Questionnaire
from surveys.statuses import InterviewStatus
from surveys.texts import Texts, texts

MAX_TRIES = 3  # after this many invalid replies the engine offers to skip (optional) or pause
YES_NO_BUTTONS = ("option_yes", "option_no")  # a confirmation's buttons, in order (texts keys)


# ------------------------------------------------------------------ state and events


@dataclass(frozen=True)
class FlowState:
    """Where one respondent is in one questionnaire; JSON-serialisable (saved after every turn)."""

    questionnaire: str  # Questionnaire.key, "id@version"
    status: str = InterviewStatus.EN_CURSO  # en_curso | completa | rechazada
    current: str | None = None  # the question awaiting an answer (None once finished)
    answers: dict[str, Any] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    history: tuple[str, ...] = ()  # questions answered or skipped, in the order asked (for ATRAS)
    pending: Pending | None = None  # a guess, pick or entity awaiting confirmation (surveys/pending.py)
    failures: int = 0  # invalid replies to the current question
    blocks_seen: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies every value and was a tenth of a turn's time.
        return {
            "questionnaire": self.questionnaire, "status": self.status, "current": self.current,
            "answers": dict(self.answers), "skipped": list(self.skipped), "history": list(self.history),
            "pending": None if self.pending is None else self.pending.to_json(), "failures": self.failures,
            "blocks_seen": list(self.blocks_seen),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlowState:
        return cls(
            **{
                **data,
                "answers": dict(data.get("answers", {})),
                "skipped": tuple(data.get("skipped", ())),
                "history": tuple(data.get("history", ())),
                "blocks_seen": tuple(data.get("blocks_seen", ())),
                "pending": pending_from_json(data["pending"]) if data.get("pending") else None,
            }
        )

    @property
    def finished(self) -> bool:
        return self.status != InterviewStatus.EN_CURSO


@dataclass(frozen=True)
class AnswerSet:
    question: str
    value: Any
    raw_text: str | None
    source: str = "chat"  # chat | prefill


@dataclass(frozen=True)
class AnswerCleared:
    """An answer no longer applies (its question stopped being relevant, or was skipped)."""

    question: str


@dataclass(frozen=True)
class Finished:
    status: str  # completa | rechazada


Event = AnswerSet | AnswerCleared | Finished


@dataclass(frozen=True)
class Step:
    messages: list[Outbound]
    state: FlowState
    events: list[Event]


class Suggester(Protocol):
    """Proposes an answer to ``question`` from the text of its ``suggest`` question (or None); ``today``
    is the respondent's date on this turn, when known (a date is read against it)."""

    def __call__(self, question: Question, source: Any, today: date | None = None) -> Any: ...


class EntityLookup(Protocol):
    """What the engine needs from the DIVIPOLA registry (surveys.entities.EntityIndex)."""

    def lookup(self, text: str) -> Any: ...
    def narrow(self, candidates: Any, text: str) -> Any: ...
    def get(self, code: str) -> Any: ...


# ------------------------------------------------------------------ the engine


class Interviewer:
    """Runs one questionnaire. Stateless itself: every method takes and returns a FlowState."""

    def __init__(self, questionnaire: Questionnaire, entities: EntityLookup, text: Texts | None = None,
                 suggester: Suggester | None = None):
        self.q = questionnaire
        self.entities = entities
        self.t = text or texts(questionnaire.language)
        self.suggester = suggester

    # -- public API

    def start(self, prefill: Mapping[str, Any] | None = None) -> Step:
        """Begin the interview; questions whose ``prefill`` field is known are answered silently."""
        state = FlowState(questionnaire=self.q.key)
        events: list[Event] = []
        for question in self.q.questions:
            value = self._prefill_value(question, (prefill or {}).get(question.prefill or ""))
            if value is not None:
                state = _with_answer(state, question.name, value)
                events.append(AnswerSet(question.name, value, None, source="prefill"))
        intro = [Outbound(self.q.intro)] if self.q.intro else []
        messages, state, more = self._advance(state)
        return Step(intro + messages, state, events + more)

    def reply(self, state: FlowState, text: str, today: date | None = None) -> Step:
        """The respondent wrote ``text`` while ``state.current`` was being asked.

        ``today`` is the respondent's local date on this turn (the host's clock): date questions
        ("el viernes") are read against it."""
        if state.finished or state.current is None:
            return Step([], state, [])
        question = self.q.question(state.current)
        pending = state.pending
        if pending is not None:
            state = dataclasses.replace(state, pending=None)
            step = self._resolve_pending(state, question, pending, text, today)
            if step is not None:
                return step
        if question.name in state.answers and question.type is not QType.ENTITY and parsing.keeps_answer(text):
            return self._keep(state, question, today)  # "la misma" after ATRAS: the answer stays as it was
        if question.type is QType.ENTITY:
            return self._entity_reply(state, question, text)
        return self._answer(state, question, text, self._parse(question, text, today), today)

    def _keep(self, state: FlowState, question: Question, today: date | None = None) -> Step:
        if question.name not in state.history:
            state = dataclasses.replace(state, history=state.history + (question.name,))
        messages, state, events = self._advance(state, today)
        return Step(messages, state, events)

    def _parse(self, question: Question, text: str, today: date | None) -> parsing.Parsed:
        return parsing.parse_answer(self.q, question, text, today=today)

    def _answer(self, state: FlowState, question: Question, text: str, parsed: parsing.Parsed,
                today: date | None = None) -> Step:
        """What a parsed reply leads to: stored, confirmed, a pick between candidates, or asked again."""
        if parsed.candidates:
            pick = Choose(tuple(parsed.candidates), text)
            return Step([self._choose(question, pick.values)], dataclasses.replace(state, pending=pick), [])
        if not parsed.ok:
            if parsed.reason == parsing.NONE_GIVEN and not question.required:
                return self.skip(state, today)  # "no hay fecha", "ninguno por ahora": nothing to store
            if parsed.reason == parsing.EMPTY and question.type is QType.TEXT and text.strip():
                return self._invalid(state, question, parsing.UNKNOWN)  # "...": they did write, only no words
            if question.type in CHOICE_TYPES - {QType.CONSENT} and self._unsure(text):
                return self._unsure_hint(state, question, text, today)
            return self._invalid(state, question, parsed.reason)
        if parsed.confirm:
            return self._guess(state, question, parsed.value, text, today)
        return self._accept(state, question, parsed.value, text, today)

    def _guess(self, state: FlowState, question: Question, value: Any, raw: str, today: date | None) -> Step:
        """ "¿Quiso decir …?" for ``value`` (a date is read back with the day it is for)."""
        # A date's read-back names the year when it is not this one: keep the day it was read against.
        guess = Confirm(value, raw, today if question.type is QType.DATE else None)
        return self._ask_confirmation(state, guess, self._confirm_text(question, value, today))

    def back(self, state: FlowState) -> Step:
        """ATRAS: ask the previous question again (its answer stays until replaced)."""
        if state.finished:
            return Step([], state, [])
        if not state.history:
            return Step([Outbound(self.t("back_first"))] + self.prompt(state), state, [])
        previous = state.history[-1]
        state = dataclasses.replace(
            state,
            current=previous,
            history=state.history[:-1],
            skipped=tuple(s for s in state.skipped if s != previous),
            pending=None,
            failures=0,
        )
        return Step(self.prompt(state), state, [])

    def skip(self, state: FlowState, today: date | None = None) -> Step:
        """OMITIR: leave an optional question unanswered."""
        if state.finished or state.current is None:
            return Step([], state, [])
        question = self.q.question(state.current)
        if question.required:
            return Step([Outbound(self.t("skip_required"))] + self.prompt(state), state, [])
        events: list[Event] = []
        answers = dict(state.answers)
        if answers.pop(question.name, None) is not None:
            events.append(AnswerCleared(question.name))
        state = dataclasses.replace(
            state,
            answers=answers,
            skipped=state.skipped + (question.name,),
            history=state.history + (question.name,),
            pending=None,
            failures=0,
        )
        state, cleared = self._drop_irrelevant(state)
        messages, state, more = self._advance(state, today)
        return Step([Outbound(self.t("skipped"))] + messages, state, events + cleared + more)

    def prompt(self, state: FlowState) -> list[Outbound]:
        """What to show to (re)ask the current question, including a pending confirmation."""
        if state.current is None:
            return []
        question = self.q.question(state.current)
        match state.pending:
            case Confirm(value, _, today):
                return [self._yes_no(self._confirm_text(question, value, today))]
            case Suggestion(value):
                return [self._yes_no(self._suggestion_text(question, value))]
            case Choose(values):
                return [self._choose(question, values)]
            case EntityConfirm(code):
                return [self._yes_no(self.t("confirm_entity", entity=self._entity_name(code)))]
            case EntityPick(codes):
                return [self._entity_pick(codes, "pick_entity")]
        return [self._render(question, state)]

    def describe(self, question: Question, value: Any, today: date | None = None) -> str:
        """A stored value as the respondent reads it ("4 (Buena)", "Plan indicativo, Proyectos",
        "martes 15 de diciembre": a date names its year unless it is ``today``'s, always when unknown)."""
        if question.type is QType.ENTITY:
            outside = {c.name: c.label for c in self.q.choice_lists.get(question.outside or "", ())}
            return outside.get(str(value)) or self._entity_name(str(value))
        if question.type is QType.DATE:
            day = date.fromisoformat(str(value))
            return formats.weekday_year(day, today)
        if question.type not in CHOICE_TYPES:
            return str(value)
        labels = {c.name: c.label for c in self.q.options(question)}
        if question.type is QType.SELECT_MULTIPLE:
            return ", ".join(labels.get(v, v) for v in value)
        if question.type is QType.RATING and isinstance(value, int):
            return f"{value} ({labels.get(str(value), value)})"
        return labels.get(str(value), str(value))

    # -- steps

    def _accept(self, state: FlowState, question: Question, value: Any, raw: str, today: date | None = None) -> Step:
        state = _with_answer(state, question.name, value)
        if question.name not in state.history:
            state = dataclasses.replace(state, history=state.history + (question.name,))
        events: list[Event] = [AnswerSet(question.name, value, raw)]
        messages: list[Outbound] = []
        if question.type is QType.SELECT_MULTIPLE:
            messages.append(Outbound(self.t("multi_ack", labels=self.describe(question, value))))
        if question.type is QType.CONSENT and value == "no":
            state = dataclasses.replace(state, status="rechazada", current=None)
            return Step([Outbound(self.t("declined"))], state, events + [Finished("rechazada")])
        state, cleared = self._drop_irrelevant(state)
        more_messages, state, more = self._advance(state, today, said=raw)
        return Step(messages + more_messages, state, events + cleared + more)

    def _advance(self, state: FlowState, today: date | None = None, said: str | None = None
                 ) -> tuple[list[Outbound], FlowState, list[Event]]:
        """Move to the next question to ask, or finish."""
        nxt = self._next_question(state)
        if nxt is None:
            state = dataclasses.replace(state, status=InterviewStatus.COMPLETA, current=None, pending=None, failures=0)
            outro = [Outbound(self.q.outro)] if self.q.outro else []
            return outro, state, [Finished(InterviewStatus.COMPLETA)]
        state = dataclasses.replace(state, current=nxt.name, pending=None, failures=0)
        message = self._render(nxt, state)
        suggestion = self._suggestion(nxt, state, today)
        source = str(state.answers.get(nxt.suggest or "", ""))
        if suggestion is None and nxt.type is QType.DATE and said and today is not None:
            # "Sí, para el viernes" to "¿Es urgente?": the date said with the answer is proposed next.
            dated = parsing.parse_answer(self.q, nxt, said, today=today)
            suggestion, source = (dated.value, said) if dated.ok else (None, source)
        if suggestion is not None:
            # Propose an answer worked out from an earlier one; "no" shows the full question. A date is
            # read back like one typed here, against the turn's date (its year named only when not this one).
            proposal = Confirm(suggestion, source, today) if nxt.type is QType.DATE else Suggestion(suggestion, source)
            state = dataclasses.replace(state, pending=proposal)
            message = self.prompt(state)[0]
        if nxt.block and nxt.block not in state.blocks_seen:
            block = self.q.block(nxt.block)
            if block is not None:
                intro = self.t("block_intro", label=block.label)
                if block.intro:
                    intro += "\n" + block.intro
                message = Outbound(f"{intro}\n\n{message.text}", message.options)
            state = dataclasses.replace(state, blocks_seen=state.blocks_seen + (nxt.block,))
        return [message], state, []

    def _suggestion(self, question: Question, state: FlowState, today: date | None) -> Any:
        if question.suggest is None or self.suggester is None or question.name in state.answers:
            return None
        source = state.answers.get(question.suggest)
        return self.suggester(question, source, today) if source else None

    def _next_question(self, state: FlowState) -> Question | None:
        for question in self.q.questions:
            if question.name in state.answers or question.name in state.skipped:
                continue
            if conditions.evaluate(question.relevant, state.answers):
                return question
        return None

    def _drop_irrelevant(self, state: FlowState) -> tuple[FlowState, list[Event]]:
        """Changing an answer (after ATRAS) can make later questions irrelevant: forget their answers."""
        dropped = [
            q.name
            for q in self.q.questions
            if q.relevant and q.name in state.answers and not conditions.evaluate(q.relevant, state.answers)
        ]
        if not dropped:
            return state, []
        answers = {k: v for k, v in state.answers.items() if k not in dropped}
        history = tuple(h for h in state.history if h not in dropped)
        return dataclasses.replace(state, answers=answers, history=history), [AnswerCleared(n) for n in dropped]

    def _invalid(self, state: FlowState, question: Question, reason: str | None) -> Step:
        state = dataclasses.replace(state, failures=state.failures + 1)
        hint = self._hint(question, reason)
        if question.type is QType.ENTITY and question.outside and question.hint:
            hint += "\n" + question.hint  # how to answer outside DIVIPOLA, again
        if state.failures >= MAX_TRIES:
            hint += "\n" + self.t("retry_required" if question.required else "retry_optional")
        return Step([Outbound(hint, self._options(question))], state, [])

    def _unsure(self, text: str) -> bool:
        """ "No sé", "ni idea", "uy, no me acuerdo": the reply's first clause says the person does not know."""
        clause = parsing.normalize(text).split(",")[0]
        words = " ".join("".join(c if c.isalnum() or c.isspace() else " " for c in clause).split())
        fillers = self.t.words("unsure.fillers")
        while (filler := next((f for f in fillers if words.startswith(f + " ") or words.endswith(" " + f)),
                              None)) is not None:  # "pues la verdad no sé", "no recuerdo la verdad"
            words = words.removeprefix(filler + " ").removesuffix(" " + filler)
        return words in self.t.words("unsure.words")

    def _unsure_hint(self, state: FlowState, question: Question, raw: str, today: date | None) -> Step:
        """What can be done when the answer is not known: the question's own "No aplica" option, proposed
        ("¿Quiso decir No aplica?"), else OMITIR (optional), else any option, changed later with ATRAS
        (texts.es.yaml ``unsure``)."""
        way_out = next((o for o in self.q.options(question) if o.name in self.t.words("unsure.options")), None)
        if way_out is not None:
            return self._guess(state, question, way_out.name, raw, today)
        step = self._invalid(state, question, None)  # the format's hint (and the way out from the third try)
        said = self.t("unsure.optional" if not question.required else "unsure.required")
        hint = step.messages[0]
        return dataclasses.replace(step, messages=[dataclasses.replace(hint, text=f"{said}\n{hint.text}")])

    def _hint(self, question: Question, reason: str | None) -> str:
        if question.type is QType.TEXT:
            if reason == parsing.TOO_LONG:
                return self.t("hint.too_long")
            if question.asks_name:
                return self.t("hint.name")
            if reason == parsing.UNKNOWN:  # an emoji alone ("👍") answers no open question
                return self.t("hint.text_words" if question.required else "hint.text_words_optional")
        if question.type is QType.DATE and reason in (parsing.OUT_OF_RANGE, parsing.AMBIGUOUS, parsing.NO_DAY,
                                                      parsing.NO_SUCH_DAY):
            return self.t(f"hint.date_{reason}")
        hint = self.t(f"hint.{question.type.value}", n=len(self.q.options(question)))
        if reason == parsing.TOO_LONG:  # a long message to a 1–5 question: say what is expected, not "shorten it"
            return self.t("hint.too_long_choice", hint=hint)
        return self.t("hint.ambiguous", hint=hint) if reason == "ambiguous" else hint

    def _ask_confirmation(self, state: FlowState, pending: Pending, text: str) -> Step:
        state = dataclasses.replace(state, pending=pending)
        return Step([self._yes_no(text)], state, [])

    def _suggestion_text(self, question: Question, value: Any) -> str:
        """ "Entiendo que su solicitud es sobre: *Plan indicativo*": a question's own words
        (``suggest.<name>`` in the texts) or the general sentence."""
        label = self.describe(question, value)
        if self.t.has(f"suggest.{question.name}"):
            return self.t(f"suggest.{question.name}", label=label)
        return self.t("confirm_suggestion", label=label)

    def _confirm_text(self, question: Question, value: Any, today: date | None = None) -> str:
        key = "confirm_date" if question.type is QType.DATE else "confirm_value"
        return self.t(key, label=self.describe(question, value, today))

    def _choose(self, question: Question, values: tuple[Any, ...]) -> Outbound:
        """ "¿Quiso decir 4 (Buena) o 5 (Excelente)?" with one button per value."""
        labels = [self.describe(question, v) for v in values]
        listed = ", ".join(f"*{x}*" for x in labels[:-1]) + " " + self.t("or") + f" *{labels[-1]}*"
        replies = self._replies(question)
        buttons = tuple(Option(x, replies.get(str(v), str(v))) for x, v in zip(labels, values, strict=True))
        return Outbound(self.t("choose_value", options=listed), buttons)

    def _resolve_pending(self, state: FlowState, question: Question, pending: Pending, text: str,
                         today: date | None) -> Step | None:
        """Answer to a confirmation or a pick. Returns None when the text is a fresh answer instead.

        Nothing offered is dropped silently: a reply that is neither a yes/no, a pick nor a new answer
        gets the same confirmation or pick again."""
        if isinstance(pending, Confirm | Choose | Suggestion):
            # "no, quise decir excelente", "no, la 5": the correction is the answer
            rest = parsing.after_no(text)
            if rest is not None:
                parsed = self._parse(question, rest, today)
                if parsed.ok or parsed.candidates:
                    return self._answer(state, question, rest, parsed, today)
        if isinstance(pending, Choose):
            return self._resolve_pick(state, question, pending, text, today)
        if isinstance(pending, Suggestion) and question.type is QType.SELECT_MULTIPLE:
            amended = self._amend_suggestion(state, question, pending, text, today)
            if amended is not None:
                return amended
        if isinstance(pending, EntityPick):
            found = self.entities.narrow(self._entities(pending.codes), text)
            if found.status == "found":
                return self._accept(state, question, found.candidates[0].code, pending.raw)
            if found.status == "ambiguous":
                pick = EntityPick(tuple(e.code for e in found.candidates), pending.raw)
                return Step([self._entity_pick(pick.codes, "pick_entity")], dataclasses.replace(state, pending=pick),
                            [])
            return None  # maybe a new name: look it up from scratch
        answer = parsing.parse_yes_no(text)
        if isinstance(pending, EntityConfirm):
            return self._resolve_entity_confirm(state, question, pending, text, answer)
        if answer == "si" and isinstance(pending, Confirm):
            # "¿Quiso decir 4 (Buena)?" "Sí, 5"; "¿Para el viernes?" "Sí, el lunes": the yes comes with another
            # value, which is confirmed in turn (the first was stored, and the value said was lost).
            rest = parsing.after_yes(text)
            other = self._parse(question, rest, today) if rest else None
            if other is not None and other.candidates:
                return self._answer(state, question, rest or "", other, today)
            if other is not None and other.ok and other.value != pending.value:
                return self._guess(state, question, other.value, text, today)
        if answer is None:
            return self._fresh(state, question, pending, text, today)
        if answer == "no":
            if isinstance(pending, Suggestion) and question.type is QType.YES_NO and pending.value == "si":
                return self._accept(state, question, "no", text, today)  # "¿Es urgente, verdad?" "No": it is not
            return Step(self.prompt(state), state, [])
        return self._accept(state, question, pending.value, pending.raw, today)

    def _resolve_entity_confirm(self, state: FlowState, question: Question, pending: EntityConfirm, text: str,
                                answer: str | None) -> Step | None:
        """The reply to "¿Nos escribe de Génova (Quindío)?". "No, es Calarcá" names the right one (looked
        up at once); a reply that is neither Sí/No nor a place ("necesito ayuda", "1") gets the question
        again, not "No encontré ese municipio". None: a new place name, looked up from scratch."""
        if answer == "si":
            return self._accept(state, question, pending.code, pending.raw)
        if answer == "no":
            rest = parsing.after_no(text)
            if rest is not None and self._names_entity(question, rest):
                return self._entity_reply(state, question, rest)
            return Step([Outbound(self.t("entity_retry"))], state, [])
        return None if self._names_entity(question, text) else self._repeat(state, question, pending)

    def _names_entity(self, question: Question, text: str) -> bool:
        found = self.entities.lookup(text)
        return bool(found.candidates) or self._outside_registry(question, text) is not None

    def _fresh(self, state: FlowState, question: Question, pending: Confirm | Suggestion, text: str,
               today: date | None) -> Step:
        """A reply to "¿Quiso decir X?" that is not a Sí or a No: a new answer, or the question again.

        A "1" or "2" that names another value is confirmed: to "¿Quiso decir Otro cargo?" it may be the
        first or second button (Sí/No) or option 1; on WhatsApp there are no buttons to tell them apart."""
        parsed = self._parse(question, text, today)
        if not (parsed.ok or parsed.candidates):
            return self._repeat(state, question, pending)
        number = parsing.lone_number(text)
        if parsed.ok and number is not None:
            if parsed.value == pending.value:
                return self._accept(state, question, parsed.value, pending.raw, today)
            if 1 <= number <= len(YES_NO_BUTTONS):
                return self._guess(state, question, parsed.value, text, today)
        return self._answer(state, question, text, parsed, today)

    def _resolve_pick(self, state: FlowState, question: Question, pending: Choose, text: str,
                      today: date | None) -> Step:
        """The reply to "¿Quiso decir 4 (Buena) o 5 (Excelente)?".

        An offered value (by its digit or words) is taken; "la primera"/"la segunda" is the n-th offered.
        A digit that is not an offered value means the n-th offered one when there is one ("1", "la 2":
        people number what they see), confirmed since it may also be a new answer; any other digit is a
        new answer, confirmed. "Sí" does not say which: the pick is asked again."""
        values = pending.values
        text = parsing.after_yes(text) or text  # "sí, la segunda", "sí, excelente": the yes says nothing here
        picked = parsing.pick_ordinal(text, len(values))  # "la primera", "la segunda"
        if picked is not None:
            return self._accept(state, question, values[picked], pending.raw, today)
        number = parsing.lone_number(text)
        if number is not None:
            replies = self._replies(question)
            offered = {replies.get(str(v), str(v)): v for v in values}
            if str(number) in offered:
                return self._accept(state, question, offered[str(number)], pending.raw, today)
            if 1 <= number <= len(values):
                return self._guess(state, question, values[number - 1], pending.raw, today)
        answer = parsing.parse_yes_no(text)
        if answer == "si":  # "sí" does not say which: ask again
            return Step([self._choose(question, values)], dataclasses.replace(state, pending=pending), [])
        if answer == "no" or parsing.says_none(text):  # "ninguna de las dos": the question again
            return Step(self.prompt(state), state, [])
        parsed = self._parse(question, text, today)
        if parsed.ok and number is not None:  # "1" to "¿4 o 5?" with no first option: maybe a new answer
            return self._guess(state, question, parsed.value, text, today)
        if parsed.ok or parsed.candidates:
            return self._answer(state, question, text, parsed, today)  # a fresh answer ("excelente")
        return self._repeat(state, question, pending)

    def _amend_suggestion(self, state: FlowState, question: Question, pending: Suggestion,
                          text: str, today: date | None) -> Step | None:
        """ "Sí, y también regalías", "sí, pero no el PDT": the proposal with what the reply adds or removes."""
        amendment = parsing.parse_amendment(self.q, question, text)
        if amendment is None:
            return None
        added, removed, unsure = amendment
        chosen = set(pending.value) | set(added)
        value = [c.name for c in self.q.options(question) if c.name in chosen and c.name not in removed]
        if not value:
            return None
        if unsure:
            return self._guess(state, question, value, text, None)
        return self._accept(state, question, value, text, today)

    def _repeat(self, state: FlowState, question: Question, pending: Pending) -> Step:
        """The confirmation or pick again, kept: the reply said neither which nor yes/no."""
        state = dataclasses.replace(state, pending=pending, failures=state.failures + 1)
        messages = self.prompt(state)
        first = messages[0]
        text = self.t("pending_again", prompt=first.text)
        if state.failures >= MAX_TRIES:
            text += "\n" + self.t("retry_required" if question.required else "retry_optional")
        return Step([Outbound(text, first.options)] + messages[1:], state, [])

    def _entity_reply(self, state: FlowState, question: Question, text: str) -> Step:
        outside = self._outside_registry(question, text)
        if outside is not None:
            return self._accept(state, question, outside, text)
        found = self.entities.lookup(text)
        if found.status == "found":
            entity = found.candidates[0]
            confirm = EntityConfirm(entity.code, text)
            return self._ask_confirmation(state, confirm, self.t("confirm_entity", entity=entity.display))
        if found.candidates:
            pick = EntityPick(tuple(e.code for e in found.candidates), text)
            key = "pick_entity" if found.status == "ambiguous" else "pick_entity_suggest"
            return Step([self._entity_pick(pick.codes, key)], dataclasses.replace(state, pending=pick), [])
        return self._invalid(state, question, None)

    def _outside_registry(self, question: Question, text: str) -> str | None:
        """An entity question may list answers outside DIVIPOLA (``outside``: "OTRA" for a grupo de
        valor that is not an alcaldía or a gobernación): the whole reply must be one of a choice's
        words, so a place name is never taken for one."""
        folded = parsing.normalize(text).strip(" ,")
        for choice in self.q.choice_lists.get(question.outside or "", ()):
            if folded in {parsing.normalize(w) for w in (choice.name, choice.label, *choice.synonyms)}:
                return choice.name
        return None

    # -- rendering

    def _render(self, question: Question, state: FlowState) -> Outbound:
        lines = [question.label]
        if question.hint:
            lines.append(f"_{question.hint}_")
        options = self.q.options(question)
        if question.type is QType.RATING:  # "1 Muy mala · … · 5 Excelente · No aplica / no lo conozco"
            lines.append(" · ".join(f"{c.name} {c.label}" if _is_number(c.name) else c.label for c in options))
        elif question.type in CHOICE_TYPES and question.type not in (QType.CONSENT, QType.YES_NO):
            lines.extend(f"{i}. {c.label}" for i, c in enumerate(options, 1))
        if question.type is QType.SELECT_MULTIPLE:
            lines.append(self.t("multi_hint"))
        if not question.required:
            lines.append(self.t("optional_hint"))
        if question.name in state.answers:
            lines.append(self.t("current_answer", answer=self.describe(question, state.answers[question.name])))
        return Outbound("\n".join(lines), self._options(question))

    def _options(self, question: Question) -> tuple[Option, ...]:
        if question.type not in CHOICE_TYPES or question.type is QType.SELECT_MULTIPLE:
            return ()
        replies = self._replies(question)
        return tuple(Option(c.label, replies[c.name]) for c in self.q.options(question))

    def _replies(self, question: Question) -> dict[str, str]:
        """What each option's button sends: a rating's value ("0" on a 0–10 scale), else its number."""
        if question.type is QType.RATING:
            return {c.name: c.name.strip() if _is_number(c.name) else c.label for c in self.q.options(question)}
        return {c.name: str(i) for i, c in enumerate(self.q.options(question), 1)}

    def _yes_no(self, text: str) -> Outbound:
        return Outbound(text, tuple(Option(self.t(key), self.t(key)) for key in YES_NO_BUTTONS))

    def _entity_pick(self, codes: tuple[str, ...], key: str) -> Outbound:
        names = [self._entity_name(c) for c in codes]
        lines = [self.t(key)] + [f"{i}. {n}" for i, n in enumerate(names, 1)]
        return Outbound("\n".join(lines), tuple(Option(n, str(i)) for i, n in enumerate(names, 1)))

    def _entities(self, codes: tuple[str, ...]) -> tuple[Any, ...]:
        return tuple(e for e in (self.entities.get(c) for c in codes) if e is not None)

    def _entity_name(self, code: str) -> str:
        entity = self.entities.get(code)
        return entity.display if entity is not None else code

    def _prefill_value(self, question: Question, value: Any) -> Any:
        """A contact field as a valid answer, or None (an unknown value is asked instead)."""
        if value is None or question.prefill is None:
            return None
        if question.type in (QType.CONSENT, QType.YES_NO):
            return value if value in ("si", "no") else None
        if question.type is QType.ENTITY:
            return value if self.entities.get(str(value)) is not None else None
        if question.type in CHOICE_TYPES:
            return value if value in {c.name for c in self.q.options(question)} else None
        return value


def _is_number(name: str) -> bool:
    return name.strip().lstrip("-").isdigit()


def _with_answer(state: FlowState, name: str, value: Any) -> FlowState:
    return dataclasses.replace(state, answers={**state.answers, name: value}, failures=0, pending=None)

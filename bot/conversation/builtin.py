"""The menu and the rating of a closed ticket as questionnaires of their own, so a menu choice and
a rating are read like any answer ("la dos", "muy buena" → "¿4 o 5?"). Labels and the words people
use come from the texts (``surveys/texts.es.yaml``); built on first use, not at import."""

from __future__ import annotations

from functools import cache

from surveys.messages import Option
from surveys.schema import Choice, QType, Question, Questionnaire
from surveys.texts import Texts, texts

MENU_ACTIONS = ("interview", "helpdesk", "my_requests", "my_results", "help")


def menu_question(text: Texts) -> Question:
    return Question(name="menu", type=QType.SELECT_ONE, label=text("menu_title"), choices="menu")


def menu_choices(text: Texts) -> tuple[Choice, ...]:
    """The menu as a choice list: its labels and the words people use for each (texts ``menu_words``)."""
    return tuple(Choice(a, text(f"menu.{a}"), text.words(f"menu_words.{a}")) for a in MENU_ACTIONS)


@cache
def menu_questionnaire() -> Questionnaire:
    t = texts()
    return Questionnaire(id="menu", version="1", title="menu", questions=(menu_question(t),),
                         choice_lists={"menu": menu_choices(t)})


@cache
def rating_questionnaire() -> Questionnaire:
    t = texts()
    question = Question(name="satisfaccion", type=QType.RATING, label=t("ticket_rate"), choices="puntaje")
    choices = tuple(Choice(str(i), t(f"rating_label.{i}")) for i in range(1, 6))
    return Questionnaire(id="rating", version="1", title="rating", questions=(question,),
                         choice_lists={"puntaje": choices})


def rating_options(text: Texts) -> tuple[Option, ...]:
    return tuple(Option(f"{i} · {text(f'rating_label.{i}')}", str(i)) for i in range(5, 0, -1))


def yes_no_options(text: Texts) -> tuple[Option, ...]:
    return (Option(text("option_yes"), text("option_yes")), Option(text("option_no"), text("option_no")))

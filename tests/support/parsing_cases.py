"""The table of tolerant-parsing cases (tests/data/parsing_cases.yaml) and the questionnaire its
questions make: read by tests/test_parsing.py and by the timing in bench/hotpaths.py."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml

from surveys.schema import Questionnaire, from_dict

DATA = yaml.safe_load((Path(__file__).parent.parent / "data" / "parsing_cases.yaml").read_text(encoding="utf-8"))
TODAY = date.fromisoformat(DATA["today"])


def questionnaire() -> Questionnaire:
    """The questionnaire of the table's questions and lists (built again on each call)."""
    questions = [
        {"name": name, "label": name, **spec} for name, spec in DATA["questions"].items()
    ]
    return from_dict(
        {"id": "parsing", "version": "1", "title": "parsing cases", "choice_lists": DATA["lists"],
         "questions": questions}
    )


Q = questionnaire()

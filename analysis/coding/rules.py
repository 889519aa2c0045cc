"""The rule layer: the codebook's keywords matched on lemmas (spaCy ``PhraseMatcher``, attr LEMMA),
negation-aware.

Each match of a code's keyword counts as evidence *for* the code (``support``) or *against* it
(``against``). A match is negated when a negation cue (no, sin, nunca, ni, tampoco, falta…) comes up
to four words before it in the same clause. What a negation means depends on the code's stance and
on whether a problem word sits in the negated span:

- a negative code (it names a problem: conectividad, destiempo…): "no hubo conectividad" / "sin
  internet" (a resource negated) supports it; "no tuvimos problemas de conexion" or "el equipo no
  ha cambiado" (a problem or a problem event negated) is against it;
- a positive or neutral code: "no hubo claridad" is against it.

The counts are features for the calibration (:mod:`analysis.coding.calibration`), which learns from
the corpus how much each is worth per code; they never decide alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from analysis.coding.codebooks import Codebook
from analysis.coding.lemmas import docs

NEGATION_CUES = frozenset({"no", "sin", "nunca", "ni", "tampoco", "jamas", "ningun", "ninguno", "ninguna",
                           "nada", "falta", "faltar", "falto", "carecer", "carece", "ausencia"})
PROBLEM_WORDS = frozenset({"problema", "falla", "fallar", "fallo", "mal", "malo", "mala", "dificultad", "caida",
                           "caer", "lento", "lenta", "inconveniente", "queja", "error", "interrupcion", "corte",
                           "cortar", "demora", "demorar", "tarde", "retraso", "complicado", "complicar",
                           # events that are the problem of a negative code: "no ha cambiado el equipo"
                           # is not rotacion_personal, while "no hubo internet" is conectividad
                           "cambiar", "cambio", "cambiado", "rotar", "rotacion", "renunciar", "retirar", "atraso",
                           "destiempo", "demorado", "atrasado"})
CLAUSE_BREAKS = frozenset({"pero", "aunque", "sino", "mas bien", "sin embargo", "porque", "y", "que"})
WINDOW = 4


@dataclass(frozen=True)
class Hit:
    code: str
    start: int
    end: int
    negated: bool
    supports: bool


class RuleLayer:
    def __init__(self, codebook: Codebook, analyser: Language):
        self.codebook = codebook
        self.analyser = analyser
        self.matcher = PhraseMatcher(analyser.vocab, attr="LEMMA")
        self.stance = {c.id: c.stance for c in codebook.codes}
        self.problem_codes: dict[str, set[str]] = {}
        for code in codebook.codes:
            if code.keywords:
                patterns = docs(analyser, code.keywords)
                self.matcher.add(code.id, [p for p in patterns if len(p)])

    def _lemma(self, doc: Doc, i: int) -> str:
        return doc[i].lemma_ or doc[i].text

    def _is_problem(self, doc: Doc, i: int) -> bool:
        word, lemma = doc[i].text, self._lemma(doc, i)
        return lemma in PROBLEM_WORDS or word in PROBLEM_WORDS or word.rstrip("s") in PROBLEM_WORDS

    def _negation(self, doc: Doc, start: int, end: int) -> tuple[bool, bool]:
        """(negated, problem word in the negated span or in the match)."""
        problem = any(self._is_problem(doc, i) for i in range(start, end))
        for i in range(start - 1, max(start - WINDOW - 1, -1), -1):
            token = doc[i]
            if token.is_punct or token.text in CLAUSE_BREAKS:
                break
            if token.text in NEGATION_CUES or self._lemma(doc, i) in NEGATION_CUES:
                between = any(self._is_problem(doc, j) for j in range(i + 1, start))
                return True, problem or between
        return False, problem

    def hits(self, doc: Doc) -> list[Hit]:
        found = []
        for match_id, start, end in self.matcher(doc):
            code = self.analyser.vocab.strings[match_id]
            negated, problem = self._negation(doc, start, end)
            if self.stance.get(code) == "negative":
                supports = not negated or not problem
            else:
                supports = not negated
            found.append(Hit(code, start, end, negated, supports))
        return found

    def features(self, doc: Doc) -> dict[str, tuple[int, int]]:
        """code → (hits supporting it, hits against it), for every code of the codebook."""
        out = {c: [0, 0] for c in self.codebook.code_ids}
        for hit in self.hits(doc):
            out[hit.code][0 if hit.supports else 1] += 1
        return {c: (s, a) for c, (s, a) in out.items()}

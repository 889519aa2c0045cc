"""Skip logic: the subset of XLSForm ``relevant`` expressions the interview engine understands.

A condition decides whether a question is asked, e.g. ``${contribuye_articulacion} != ''`` or
``selected(${demanda_temas}, 'otro')``. Expressions come from data files an analyst edits (YAML, or an
XLSForm authored in KoBoToolbox), so they are parsed by a small tokenizer and recursive-descent parser,
never ``eval``. Each expression is compiled once into nested closures and cached, because the engine
evaluates every condition on every turn.

Supported: ``${name}``, string literals ``'…'``/``"…"``, numbers, ``= != < <= > >=``, ``and``, ``or``,
``not(…)``, parentheses, ``selected(${x}, 'v')``, ``count-selected(${x})``, ``string-length(${x})``,
``true()``, ``false()``.

Semantics follow ODK:

- an unanswered question is ``''``;
- a select_multiple answer is a list, seen by comparisons as its space-separated value (so ``= ''`` means
  "nothing selected" and ``!= ''`` "something selected"); ``selected()`` tests membership;
- ``=``/``!=`` compare numerically when both sides are numeric (``3 = '3'``), as strings otherwise;
- ``< <= > >=`` compare numerically, and are false when a side is not a number (an unanswered rating
  never satisfies ``${puntaje_general} <= 2``), like XPath's NaN;
- a bare value used as a condition is true when non-empty / non-zero.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from surveys.schema import Questionnaire

__all__ = ["ConditionError", "check", "compile_condition", "evaluate", "references"]

Answers = Mapping[str, Any]
Value = Any  # str | int | float | bool | list[str]
Node = Callable[[Answers], Value]


class ConditionError(ValueError):
    """A condition that cannot be parsed; the message names the expression and the position."""


# ---------------------------------------------------------------- tokenizer

_TOKEN = re.compile(
    r"""
    (?:
      (?P<ref>\$\{\s*(?P<refname>[A-Za-z_][\w.\-]*)\s*\})
    | (?P<str>'[^']*'|"[^"]*")
    | (?P<num>-?\d+(?:\.\d*)?|-?\.\d+)
    | (?P<op><=|>=|!=|=|<|>)
    | (?P<punct>[(),])
    | (?P<ident>[A-Za-z_][\w\-]*)
    )
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # ref, str, num, op, punct, ident, end
    text: str  # the name for ref, the unquoted text for str
    pos: int


def _tokenize(expr: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos, end = 0, len(expr)
    while True:
        while pos < end and expr[pos].isspace():
            pos += 1
        if pos >= end:
            break
        m = _TOKEN.match(expr, pos)
        if not m:
            if expr[pos] in "'\"":
                raise ConditionError(f"unterminated string at {pos} in {expr!r}")
            raise ConditionError(f"unexpected character {expr[pos]!r} at {pos} in {expr!r}")
        if m.group("ref"):
            tokens.append(_Tok("ref", m.group("refname"), m.start("ref")))
        elif m.group("str") is not None:
            tokens.append(_Tok("str", m.group("str")[1:-1], m.start("str")))
        else:
            kind = m.lastgroup or ""
            tokens.append(_Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    tokens.append(_Tok("end", "", end))
    return tokens


# ---------------------------------------------------------------- value semantics


def _as_text(v: Value) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple, set, frozenset)):
        return " ".join(str(x) for x in v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _as_number(v: Value) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip()) if v.strip() else None
        except ValueError:
            return None
    return None


def _any_of(parts: tuple[Node, ...]) -> Node:
    return lambda answers: any(_truthy(part(answers)) for part in parts)


def _all_of(parts: tuple[Node, ...]) -> Node:
    return lambda answers: all(_truthy(part(answers)) for part in parts)


def _truthy(v: Value) -> bool:
    if isinstance(v, (list, tuple, set, frozenset)):
        return len(v) > 0
    if isinstance(v, str):
        return v != ""
    return bool(v)


def _items(v: Value) -> list[str]:
    if isinstance(v, (list, tuple, set, frozenset)):
        return [str(x) for x in v]
    return _as_text(v).split()


def _equal(a: Value, b: Value) -> bool:
    na, nb = _as_number(a), _as_number(b)
    if na is not None and nb is not None:
        return na == nb
    return _as_text(a) == _as_text(b)


_RELATIONAL: dict[str, Callable[[float, float], bool]] = {
    "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y,
    ">": lambda x, y: x > y,
    ">=": lambda x, y: x >= y,
}


# ---------------------------------------------------------------- parser


@dataclass(frozen=True, slots=True)
class Compiled:
    """A parsed condition: ``fn(answers)`` is its truth value; ``refs`` the question names it reads.

    ``literals`` pairs a referenced choice question with a string it is compared to (``selected()``,
    ``=``, ``!=``), so :func:`check` can catch a misspelled stored value.
    """

    source: str
    fn: Callable[[Answers], bool]
    refs: frozenset[str]
    literals: tuple[tuple[str, str], ...]

    def __call__(self, answers: Answers) -> bool:
        return self.fn(answers)


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = _tokenize(expr)
        self.i = 0
        self.refs: set[str] = set()
        self.literals: list[tuple[str, str]] = []

    # -- helpers
    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Tok, wanted: str) -> ConditionError:
        got = "end of expression" if tok.kind == "end" else repr(tok.text)
        return ConditionError(f"expected {wanted} but found {got} at {tok.pos} in {self.expr!r}")

    def expect(self, kind: str, text: str | None = None) -> _Tok:
        tok = self.take()
        if tok.kind != kind or (text is not None and tok.text != text):
            raise self.fail(tok, repr(text) if text else kind)
        return tok

    # -- grammar: or_expr := and_expr ('or' and_expr)* ; and_expr := cmp ('and' cmp)*
    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek().kind != "end":
            raise self.fail(self.peek(), "an operator or the end")
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.peek().kind == "ident" and self.peek().text == "or":
            self.take()
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return _any_of(tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.comparison()]
        while self.peek().kind == "ident" and self.peek().text == "and":
            self.take()
            parts.append(self.comparison())
        if len(parts) == 1:
            return parts[0]
        return _all_of(tuple(parts))

    def comparison(self) -> Node:
        left_tok = self.peek()
        left = self.primary()
        if self.peek().kind != "op":
            return left
        op = self.take().text
        right_tok = self.peek()
        right = self.primary()
        if self.peek().kind == "op":
            raise self.fail(self.peek(), "'and', 'or' or ')' (comparisons do not chain)")
        if op in ("=", "!="):
            # Remember `${x} = 'v'` so check() can validate 'v' against x's choices.
            for ref, lit in ((left_tok, right_tok), (right_tok, left_tok)):
                if ref.kind == "ref" and lit.kind == "str" and lit.text != "":
                    self.literals.append((ref.text, lit.text))
            if op == "=":
                return lambda a: _equal(left(a), right(a))
            return lambda a: not _equal(left(a), right(a))
        rel = _RELATIONAL[op]

        def relational(a: Answers) -> bool:
            x, y = _as_number(left(a)), _as_number(right(a))
            return x is not None and y is not None and rel(x, y)

        return relational

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "ref":
            name = tok.text
            self.refs.add(name)
            return lambda a: a.get(name, "")
        if tok.kind == "str":
            text = tok.text
            return lambda a: text
        if tok.kind == "num":
            number = float(tok.text)
            return lambda a: number
        if tok.kind == "punct" and tok.text == "(":
            node = self.or_expr()
            self.expect("punct", ")")
            return node
        if tok.kind == "ident":
            return self.call(tok)
        raise self.fail(tok, "a value, ${name} or '('")

    def call(self, tok: _Tok) -> Node:
        name = tok.text
        if name not in _FUNCTIONS:
            raise ConditionError(f"unknown function or word {name!r} at {tok.pos} in {self.expr!r}")
        self.expect("punct", "(")
        args: list[Node] = []
        arg_toks: list[_Tok] = []
        if not (self.peek().kind == "punct" and self.peek().text == ")"):
            while True:
                arg_toks.append(self.peek())
                args.append(self.or_expr())
                if self.peek().kind == "punct" and self.peek().text == ",":
                    self.take()
                    continue
                break
        self.expect("punct", ")")
        arity = _FUNCTIONS[name]
        if len(args) != arity:
            raise ConditionError(f"{name}() takes {arity} argument(s), got {len(args)} in {self.expr!r}")
        if name == "selected":
            if arg_toks[0].kind == "ref" and arg_toks[1].kind == "str":
                self.literals.append((arg_toks[0].text, arg_toks[1].text))
            which, value = args
            return lambda a: _as_text(value(a)) in _items(which(a))
        if name == "count-selected":
            (arg,) = args
            return lambda a: len(_items(arg(a)))
        if name == "string-length":
            (arg,) = args
            return lambda a: len(_as_text(arg(a)))
        if name == "not":
            (arg,) = args
            return lambda a: not _truthy(arg(a))
        if name == "true":
            return lambda a: True
        return lambda a: False  # false()


_FUNCTIONS: dict[str, int] = {
    "selected": 2,
    "count-selected": 1,
    "string-length": 1,
    "not": 1,
    "true": 0,
    "false": 0,
}


# ---------------------------------------------------------------- public API


def _always(answers: Answers) -> bool:
    return True


_EMPTY = Compiled(source="", fn=_always, refs=frozenset(), literals=())


@lru_cache(maxsize=4096)
def compile_condition(expr: str | None) -> Compiled:
    """Parse ``expr`` once; raises :class:`ConditionError` on a syntax error. ``None``/blank is always true."""
    if expr is None or not expr.strip():
        return _EMPTY
    parser = _Parser(expr)
    node = parser.parse()
    return Compiled(
        source=expr,
        fn=lambda a: _truthy(node(a)),
        refs=frozenset(parser.refs),
        literals=tuple(parser.literals),
    )


def evaluate(expr: str | None, answers: Answers) -> bool:
    """Whether the condition holds for these answers (question name → stored value)."""
    return compile_condition(expr).fn(answers)


def references(expr: str | None) -> set[str]:
    """The question names an expression reads (``${name}``)."""
    return set(compile_condition(expr).refs)


def check(questionnaire: Questionnaire) -> list[str]:
    """Problems with the questionnaire's conditions; an empty list means every condition is usable.

    Reported: syntax errors, references to unknown questions, references to the question itself or to a
    later one (the engine asks in order, so the answer would not exist yet), and string values that are
    not stored values of the referenced choice question.
    """
    errors: list[str] = []
    position = {q.name: i for i, q in enumerate(questionnaire.questions)}
    for i, q in enumerate(questionnaire.questions):
        if not q.relevant:
            continue
        try:
            compiled = compile_condition(q.relevant)
        except ConditionError as exc:
            errors.append(f"{q.name}: relevant: {exc}")
            continue
        for ref in sorted(compiled.refs):
            if ref not in position:
                errors.append(f"{q.name}: relevant refers to unknown question ${{{ref}}}")
            elif position[ref] >= i:
                errors.append(f"{q.name}: relevant refers to ${{{ref}}}, which is not asked before it")
        for ref, literal in compiled.literals:
            if ref not in position:
                continue
            target = questionnaire.questions[position[ref]]
            names = _choice_names(questionnaire, target.choices) if target.choices else None
            if names is not None and literal not in names:
                errors.append(f"{q.name}: relevant compares ${{{ref}}} with {literal!r}, not one of {sorted(names)}")
    return errors


def _choice_names(questionnaire: Questionnaire, list_name: str) -> Sequence[str] | None:
    choices = questionnaire.choice_lists.get(list_name)
    return None if choices is None else [c.name for c in choices]

"""XLSForm import/export, so questionnaires can travel to and from KoBoToolbox / ODK.

- :func:`to_xlsform` writes the three standard sheets (``survey``, ``choices``, ``settings``). Everything
  XLSForm has no column for (our question type, codebook, prefill, synonyms, block intros, interview
  intro/outro) goes into extra ``m360_*`` columns, which KoBo and pyxform ignore; so
  ``from_xlsform(to_xlsform(q)) == q``.
- :func:`from_xlsform` reads our own export exactly, and also a form authored in KoBo without ``m360_*``
  columns, inferring our types from the XLSForm ones (see :func:`_infer`). Rows the chat cannot ask
  (notes, calculations, device metadata) are skipped; types it cannot ask (photos, GPS, repeats…) are
  rejected with an :class:`XLSFormError` naming the row.
- :func:`to_xform` compiles to ODK XForm XML with pyxform, which checks the structure (names, references,
  choice lists). ODK Validate (Java) is not run.

Blocks map to ``begin_group``/``end_group``; the block intro sits in ``m360_intro`` on the begin row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from io import BytesIO
from os import PathLike
from pathlib import Path
from typing import IO, Any

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet

from surveys import conditions
from surveys.schema import CHOICE_TYPES, Block, Choice, QType, Question, Questionnaire
from surveys.spreadsheet import keep_as_text

__all__ = ["XLSFormError", "from_xlsform", "to_xform", "to_xlsform"]

Source = str | PathLike[str] | IO[bytes]

#: Language names as KoBo writes them in ``label::<Name> (<code>)`` columns.
LANGUAGE_NAMES = {"es": "Español", "en": "English", "pt": "Português", "fr": "Français"}

# XLSForm type for each of ours; choice types add " <list_name>".
_EXPORT_TYPE = {
    QType.CONSENT: "select_one",
    QType.SELECT_ONE: "select_one",
    QType.SELECT_MULTIPLE: "select_multiple",
    QType.RATING: "select_one",
    QType.SCALE: "select_one",
    QType.YES_NO: "select_one",
    QType.YES_NO_PARTIAL: "select_one",
    QType.ENTITY: "text",
    QType.TEXT: "text",
    QType.DATE: "date",
}

# Rows a chat interview has nothing to ask for: skipped on import.
_IGNORED_TYPES = frozenset(
    {"note", "calculate", "hidden", "start", "end", "today", "deviceid", "imei", "username", "email",
     "phonenumber", "simserial", "subscriberid", "audit", "start-geopoint", "xml-external", "csv-external"}
)
_SUPPORTED_HINT = (
    "text, date, select_one, select_multiple, integer or range 1–N (as a rating), note/calculate/metadata (skipped)"
)

_SCALE_NAMES = frozenset({"excelente", "buena", "regular", "mala", "muy_mala", "no_aplica"})
_MAX_RATING_POINTS = 11  # 0–10 is the widest numeric scale that still reads as a rating in a chat


class XLSFormError(ValueError):
    """An XLSForm the chat engine cannot run; the message names the sheet row when there is one."""


# ---------------------------------------------------------------- export


def _language_column(base: str, language: str) -> str:
    return f"{base}::{LANGUAGE_NAMES.get(language, language)} ({language})"


def _block_order(q: Questionnaire) -> None:
    """Groups are contiguous runs of rows: refuse a block layout that XLSForm cannot express."""
    order: list[str] = []
    current: str | None = None
    for question in q.questions:
        if question.block != current and question.block is not None:
            if question.block in order:
                raise XLSFormError(f"block {question.block!r} is split: its questions must be contiguous")
            order.append(question.block)
        current = question.block
    declared = [b.name for b in q.blocks]
    unused = [name for name in declared if name not in order]
    if unused:
        raise XLSFormError(f"blocks without questions cannot be written as XLSForm groups: {unused}")
    if order != declared:
        raise XLSFormError(f"blocks are declared in the order {declared} but questions use {order}")


def _put_row(ws: Worksheet, values: Iterable[str | None]) -> None:
    ws.append(list(values))
    for cell in ws[ws.max_row]:
        keep_as_text(cell)  # a label starting with "=" or "-" stays that text, never a formula


def to_xlsform(q: Questionnaire, path: Source) -> None:
    """Write ``q`` as an XLSForm workbook (``.xlsx``) to a path or a binary file object."""
    _block_order(q)
    label, hint = _language_column("label", q.language), _language_column("hint", q.language)
    wb = openpyxl.Workbook()
    survey = wb.active
    assert survey is not None
    survey.title = "survey"
    columns = ["type", "name", label, hint, "required", "relevant",
               "m360_type", "m360_codebook", "m360_prefill", "m360_suggest", "m360_outside", "m360_intro"]
    _put_row(survey, columns)

    def row(**values: str | None) -> None:
        _put_row(survey, (values.get(c) for c in ("type", "name", "label", "hint", "required", "relevant",
                                                   "m360_type", "m360_codebook", "m360_prefill", "m360_suggest",
                                                   "m360_outside",
                                                   "m360_intro")))

    current: str | None = None
    for question in q.questions:
        if question.block != current:
            if current is not None:
                row(type="end_group")
            if question.block is not None:
                block = q.block(question.block)
                assert block is not None
                row(type="begin_group", name=block.name, label=block.label, m360_intro=block.intro)
            current = question.block
        xls_type = _EXPORT_TYPE[question.type]
        if question.type in CHOICE_TYPES:
            xls_type = f"{xls_type} {question.choices}"
        row(type=xls_type, name=question.name, label=question.label, hint=question.hint,
            required="yes" if question.required else None, relevant=question.relevant,
            m360_type=question.type.value, m360_codebook=question.codebook, m360_prefill=question.prefill,
            m360_suggest=question.suggest, m360_outside=question.outside)
    if current is not None:
        row(type="end_group")

    choices = wb.create_sheet("choices")
    _put_row(choices, ["list_name", "name", label, "m360_synonyms"])
    for list_name, options in q.choice_lists.items():
        for c in options:
            bad = [s for s in c.synonyms if ";" in s or s != s.strip() or not s]
            if bad:
                raise XLSFormError(f"choice {list_name}/{c.name}: synonyms {bad} cannot be ';'-joined")
            _put_row(choices, [list_name, c.name, c.label, ";".join(c.synonyms) or None])

    settings = wb.create_sheet("settings")
    _put_row(settings, ["form_id", "version", "form_title", "default_language", "m360_intro", "m360_outro"])
    _put_row(settings, [q.id, q.version, q.title, f"{LANGUAGE_NAMES.get(q.language, q.language)} ({q.language})",
                        q.intro, q.outro])
    wb.save(path)  # type: ignore[arg-type]  # openpyxl accepts paths and binary file objects


def to_xform(source: Questionnaire | Source) -> str:
    """ODK XForm XML for a questionnaire or an XLSForm file, produced (and structure-checked) by pyxform.

    The instance root is pyxform's default (``data``, as in KoBo), so a questionnaire and its exported
    file give the same XML.
    """
    from pyxform.errors import PyXFormError
    from pyxform.xls2xform import convert

    if isinstance(source, Questionnaire):
        buf = BytesIO()
        to_xlsform(source, buf)
        data: Any = buf.getvalue()
    elif isinstance(source, (str, PathLike)):
        data = source
    else:
        data = source.read()
    try:
        return convert(xlsform=data, pretty_print=True).xform
    except PyXFormError as exc:
        raise XLSFormError(f"pyxform rejected the form: {exc}") from exc


# ---------------------------------------------------------------- import

Row = dict[str, str]


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores typed 1 as 1.0 in some writers
    text = str(value).replace("\u00a0", " ")
    return text if text.strip() else None


def _header(raw: Any) -> str | None:
    """``Label :: Español (es)`` → ``label::Español (es)``; ``list name`` → ``list_name``."""
    text = _cell_text(raw)
    if text is None:
        return None
    base, sep, lang = (" ".join(text.split())).partition("::")
    base = base.strip().lower().replace(" ", "_")
    return f"{base}::{lang.strip()}" if sep else base


def _read_sheet(ws: Worksheet) -> tuple[list[str], list[tuple[int, Row]]]:
    """Header and non-empty rows (with their 1-based sheet row number, as a user sees it in Excel)."""
    rows = ws.iter_rows(values_only=True)
    first = next(rows, None) or ()
    header = [_header(h) for h in first]
    seen = [h for h in header if h]
    dupes = sorted({h for h in seen if seen.count(h) > 1})
    if dupes:
        raise XLSFormError(f"sheet {ws.title!r}: duplicate columns {dupes}")
    out: list[tuple[int, Row]] = []
    for number, values in enumerate(rows, start=2):
        record = {h: t for h, v in zip(header, values, strict=False) if h and (t := _cell_text(v)) is not None}
        if record:
            out.append((number, record))
    return seen, out


def _language_code(default_language: str | None, columns: list[str]) -> str:
    if default_language:
        m = re.search(r"\(([A-Za-z-]+)\)\s*$", default_language)
        if m:
            return m.group(1)
        by_name = {name.lower(): code for code, name in LANGUAGE_NAMES.items()} | {"spanish": "es"}
        if default_language.strip().lower() in by_name:
            return by_name[default_language.strip().lower()]
        if re.fullmatch(r"[a-z]{2}", default_language.strip()):
            return default_language.strip()
    codes = [m.group(1) for c in columns if (m := re.search(r"\(([A-Za-z-]+)\)$", c))]
    return "es" if "es" in codes or not codes else codes[0]


def _pick_column(columns: list[str], base: str, default_language: str | None, code: str) -> str | None:
    """The text column to read: the default language's, else this language's, else the untranslated one."""
    candidates = [c for c in columns if c == base or c.startswith(base + "::")]
    tests = (
        lambda c: default_language is not None and c == f"{base}::{default_language.strip()}",
        lambda c: c.endswith(f"({code})"),
        lambda c: c == base,
    )
    for test in tests:
        for c in candidates:
            if test(c):
                return c
    return candidates[0] if candidates else None


_TYPE_SPACES = re.compile(r"^(select|begin|end)[ _](one|multiple|group|repeat)\b")


def _split_type(raw: str) -> tuple[str, str]:
    """``select one  temas`` → (``select_one``, ``temas``); ``begin group`` → (``begin_group``, '')."""
    text = _TYPE_SPACES.sub(r"\1_\2", " ".join(raw.split()).lower(), count=1)
    base, _, arg = text.partition(" ")
    return base, arg


def _required(value: str | None) -> bool:
    if value is None:
        return False
    v = value.strip().lower()
    if v in ("", "no", "false", "false()", "0"):
        return False
    # yes/true/true()/1; a conditional expression also counts as required (the chat has no such mode).
    return True


_BOUND = re.compile(r"^\.\s*(>=|>|<=|<)\s*(-?\d+)$")


def _rating_bounds(constraint: str | None) -> tuple[int, int] | None:
    """``. >= 1 and . <= 5`` → (1, 5); anything else → None."""
    if not constraint:
        return None
    lo = hi = None
    for part in re.split(r"\s+and\s+", constraint.strip()):
        m = _BOUND.match(part.strip())
        if not m:
            return None
        op, n = m.group(1), int(m.group(2))
        if op == ">=":
            lo = n
        elif op == ">":
            lo = n + 1
        elif op == "<=":
            hi = n
        else:
            hi = n - 1
    if lo is None or hi is None or not 0 < hi - lo + 1 <= _MAX_RATING_POINTS:
        return None
    return lo, hi


def _range_bounds(parameters: str | None) -> tuple[int, int] | None:
    """``start=1 end=5 step=1`` → (1, 5) for an integer step-1 range."""
    params = dict(re.findall(r"(\w+)\s*=\s*(-?[\d.]+)", parameters or ""))
    try:
        lo, hi, step = int(params.get("start", "0")), int(params.get("end", "10")), int(params.get("step", "1"))
    except ValueError:
        return None
    if step != 1 or not 0 < hi - lo + 1 <= _MAX_RATING_POINTS:
        return None
    return lo, hi


_RATING_WAYS_OUT = frozenset({"no_aplica", "ns_nr", "no_sabe"})  # non-numeric options a rating may offer


def _is_consecutive_integers(names: list[str]) -> bool:
    if not names or not all(re.fullmatch(r"-?\d+", n) for n in names):
        return False
    numbers = [int(n) for n in names]
    return numbers == list(range(numbers[0], numbers[0] + len(numbers))) and len(numbers) <= _MAX_RATING_POINTS


def _infer(name: str, base: str, names: list[str] | None) -> QType:
    """Our type for a KoBo row without ``m360_type``.

    ``text`` → text (``entity`` when named ``entidad``, the canonical name); select_one over si/no →
    yes_no (``consent`` when the name starts with ``consent``); si/no/parcialmente → yes_no_partial;
    consecutive integers ("1".."5") → rating; labelled scale names (excelente … no_aplica) → scale;
    any other list → select_one; select_multiple → select_multiple. Integer/range ratings are handled
    by the caller because they need a synthesized list.
    """
    if base == "text":
        return QType.ENTITY if name == "entidad" else QType.TEXT
    if base == "select_multiple":
        return QType.SELECT_MULTIPLE
    values = set(names or ())
    if values == {"si", "no"}:
        return QType.CONSENT if name.startswith("consent") else QType.YES_NO
    if values == {"si", "no", "parcialmente"}:
        return QType.YES_NO_PARTIAL
    if _is_consecutive_integers([n for n in names or [] if n not in _RATING_WAYS_OUT]):
        return QType.RATING  # "1".."5", maybe with a way out ("no_aplica")
    if len(values) >= 3 and values <= _SCALE_NAMES:
        return QType.SCALE
    return QType.SELECT_ONE


def _rating_list(lists: dict[str, tuple[Choice, ...]], lo: int, hi: int) -> str:
    """A choice list "lo".."hi" for a numeric rating (labels are the numbers), reusing an identical one."""
    wanted = tuple(Choice(name=str(n), label=str(n)) for n in range(lo, hi + 1))
    base = name = f"escala_{lo}_{hi}"
    n = 1
    while name in lists and lists[name] != wanted:
        n += 1
        name = f"{base}_{n}"
    lists[name] = wanted
    return name


def _read_choices(ws: Worksheet | None, default_language: str | None, code: str) -> dict[str, tuple[Choice, ...]]:
    if ws is None:
        return {}
    columns, rows = _read_sheet(ws)
    label_col = _pick_column(columns, "label", default_language, code)
    lists: dict[str, list[Choice]] = {}
    for number, record in rows:
        list_name, name = (record.get("list_name") or "").strip(), (record.get("name") or "").strip()
        if not list_name or not name:
            raise XLSFormError(f"choices row {number}: list_name and name are both required")
        synonyms = tuple(s.strip() for s in (record.get("m360_synonyms") or "").split(";") if s.strip())
        label = record.get(label_col) if label_col else None
        lists.setdefault(list_name, []).append(Choice(name=name, label=label or name, synonyms=synonyms))
    return {k: tuple(v) for k, v in lists.items()}


def _stem(source: Source) -> str | None:
    if isinstance(source, (str, PathLike)):
        return Path(source).stem
    return None


def from_xlsform(source: Source) -> Questionnaire:
    """Read an XLSForm workbook (``.xlsx``): our own export exactly, or a KoBo-authored form by inference."""
    try:
        wb = openpyxl.load_workbook(source, read_only=True, data_only=True)  # type: ignore[arg-type]
    except Exception as exc:  # openpyxl raises zipfile/KeyError/OSError variants for non-xlsx input
        raise XLSFormError(f"cannot read XLSForm workbook (.xlsx expected): {exc}") from exc
    try:
        sheets = {name.strip().lower(): wb[name] for name in wb.sheetnames}
        if "survey" not in sheets:
            raise XLSFormError(f"no 'survey' sheet (sheets: {wb.sheetnames})")
        settings: Row = {}
        if "settings" in sheets:
            _, settings_rows = _read_sheet(sheets["settings"])
            settings = settings_rows[0][1] if settings_rows else {}
        default_language = settings.get("default_language")
        survey_columns, survey_rows = _read_sheet(sheets["survey"])
        code = _language_code(default_language, survey_columns)
        lists = _read_choices(sheets.get("choices"), default_language, code)
        blocks, questions = _read_survey(survey_columns, survey_rows, lists, default_language, code)
    finally:
        wb.close()

    def setting(key: str, *aliases: str) -> str | None:
        for k in (key, *aliases):
            if settings.get(k) is not None:
                return settings[k].strip()
        return None

    form_id = setting("form_id", "id_string") or _stem(source) or "formulario"
    try:
        q = Questionnaire(
            id=form_id,
            version=setting("version") or "1",
            title=setting("form_title", "title") or form_id,
            questions=tuple(questions),
            choice_lists=lists,
            blocks=tuple(blocks),
            intro=settings.get("m360_intro"),
            outro=settings.get("m360_outro"),
            language=code,
        )
    except ValueError as exc:
        raise XLSFormError(str(exc)) from exc
    problems = conditions.check(q)
    if problems:
        raise XLSFormError("relevant conditions the chat engine cannot run: " + "; ".join(problems))
    return q


def _read_survey(
    columns: list[str],
    rows: list[tuple[int, Row]],
    lists: dict[str, tuple[Choice, ...]],
    default_language: str | None,
    code: str,
) -> tuple[list[Block], list[Question]]:
    label_col = _pick_column(columns, "label", default_language, code)
    hint_col = _pick_column(columns, "hint", default_language, code)
    blocks: list[Block] = []
    questions: list[Question] = []
    # Open groups: (block name, the group's relevant). A question lives in the innermost group and must
    # satisfy every enclosing group's condition, which the flat block model folds into its own relevant.
    stack: list[tuple[str, str | None]] = []

    def text(record: Row, column: str | None) -> str | None:
        return record.get(column) if column else None

    for number, record in rows:
        raw_type = (record.get("type") or "").strip()
        name = (record.get("name") or "").strip()
        where = f"survey row {number}" + (f" ({name})" if name else "")
        if not raw_type:
            raise XLSFormError(f"{where}: no type")
        base, arg = _split_type(raw_type)

        if base == "begin_group":
            if not name:
                raise XLSFormError(f"{where}: a group needs a name")
            if any(b.name == name for b in blocks):
                raise XLSFormError(f"{where}: group name {name!r} is used twice")
            blocks.append(Block(name=name, label=text(record, label_col) or name, intro=record.get("m360_intro")))
            stack.append((name, record.get("relevant")))
            continue
        if base == "end_group":
            if not stack:
                raise XLSFormError(f"{where}: end_group without begin_group")
            stack.pop()
            continue
        if base in _IGNORED_TYPES:
            continue
        if not name:
            raise XLSFormError(f"{where}: a question needs a name")

        choices: str | None = None
        m360_type = (record.get("m360_type") or "").strip()
        if base in ("select_one", "select_multiple"):
            choices = arg
            if not choices or " " in choices:
                raise XLSFormError(f"{where}: type {raw_type!r} is not supported (expected '{base} <list_name>')")
            if choices not in lists:
                raise XLSFormError(f"{where}: choice list {choices!r} is not in the choices sheet")
        bounds: tuple[int, int] | None = None
        if base == "integer":
            bounds = _rating_bounds(record.get("constraint"))
        elif base == "range":
            bounds = _range_bounds(record.get("parameters"))

        if m360_type:
            try:
                qtype = QType(m360_type)
            except ValueError:
                raise XLSFormError(f"{where}: unknown m360_type {m360_type!r}") from None
        elif base in ("text", "select_one", "select_multiple"):
            qtype = _infer(name, base, [c.name for c in lists[choices]] if choices else None)
        elif bounds is not None:
            qtype = QType.RATING
        elif base == "date":
            qtype = QType.DATE
        else:
            raise XLSFormError(f"{where}: type {raw_type!r} is not supported; supported: {_SUPPORTED_HINT}")
        if qtype in CHOICE_TYPES and choices is None:
            if qtype is not QType.RATING or bounds is None:
                raise XLSFormError(f"{where}: m360_type {qtype.value} needs a select_one/select_multiple list")
            choices = _rating_list(lists, *bounds)

        label = text(record, label_col)
        if not label:
            raise XLSFormError(f"{where}: no label")
        conds = [r for r in (*(g for _, g in stack), record.get("relevant")) if r and r.strip()]
        relevant = conds[0] if len(conds) == 1 else " and ".join(f"({r})" for r in conds) or None
        questions.append(Question(
            name=name,
            type=qtype,
            label=label,
            hint=text(record, hint_col),
            choices=choices if qtype in CHOICE_TYPES else None,
            required=_required(record.get("required")),
            relevant=relevant,
            block=stack[-1][0] if stack else None,
            codebook=(record.get("m360_codebook") or "").strip() or None,
            prefill=(record.get("m360_prefill") or "").strip() or None,
            suggest=(record.get("m360_suggest") or "").strip() or None,
            outside=(record.get("m360_outside") or "").strip() or None,
        ))
    if stack:
        raise XLSFormError(f"group {stack[-1][0]!r} has no end_group")
    # A KoBo group holding only notes or metadata has nothing to ask: it is not a block.
    used = {q.block for q in questions}
    return [b for b in blocks if b.name in used], questions

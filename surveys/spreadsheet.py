"""Cells a spreadsheet program would run: formula injection ("CSV injection", OWASP).

Respondents write free text, and analysts open the exports in Excel or LibreOffice. A text cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read there as a formula
(``=cmd|' /C calc'!A0`` runs a program through DDE). Every CSV and XLSX the product writes goes
through here:

- :func:`neutralise` (and :func:`neutralise_frame` for a pandas table) puts an apostrophe before
  such a text, OWASP's rule, for files people open: the exports, the informe workbook, the wave
  links. Numbers are left alone (``-3`` stored as a number is a number, not a formula).
- :func:`neutralise_workbook` does the same for a table written to an XLSX workbook and also
  replaces the control characters XML cannot hold (openpyxl refuses the whole file for one
  vertical tab or escape pasted into an answer): a line or page break becomes a line break, any
  other becomes U+FFFD — and cuts a text longer than an Excel cell holds. A CSV keeps them (it is
  read back by ``m360 responses import``).
- :func:`keep_as_text` marks an openpyxl cell as text with Excel's own quote prefix, for files that
  must keep the text exactly because a program reads them back (the XLSForm for KoBo/pyxform).
"""

from __future__ import annotations

import re
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

#: What makes Excel, LibreOffice or Google Sheets read a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def neutralise(value: Any) -> Any:
    """``value`` with an apostrophe in front if it is a text a spreadsheet would run; else unchanged."""
    return "'" + value if looks_like_formula(value) else value


def neutralise_row(values: Any) -> list[Any]:
    return [neutralise(v) for v in values]


def neutralise_frame(frame: Any) -> Any:
    """A copy of a pandas DataFrame with every text cell (and column name) neutralised."""
    safe = frame.map(neutralise)
    safe.columns = [neutralise(c) for c in frame.columns]
    return safe


#: The most characters an Excel cell holds; a longer text makes Excel "repair" the whole file.
CELL_LIMIT = 32_767


def workbook_text(value: Any) -> Any:
    """``value`` as an XLSX cell can hold it: neutralised, without XML's forbidden characters, and
    cut to Excel's CELL_LIMIT with an ellipsis (the CSV keeps it whole)."""
    if isinstance(value, str) and ILLEGAL_CHARACTERS_RE.search(value):
        value = ILLEGAL_CHARACTERS_RE.sub(_replacement, value)
    value = neutralise(value)
    if isinstance(value, str) and len(value) > CELL_LIMIT:
        value = value[:CELL_LIMIT - 1] + "…"
    return value


def _replacement(found: re.Match[str]) -> str:
    return "\n" if found.group() in "\v\f" else "\ufffd"


def neutralise_workbook(frame: Any) -> Any:
    """A copy of a pandas DataFrame ready for ``to_excel``: every text cell and column name through
    :func:`workbook_text`."""
    safe = frame.map(workbook_text)
    safe.columns = [workbook_text(c) for c in frame.columns]
    return safe


def keep_as_text(cell: Any) -> None:
    """An openpyxl cell holding a formula-like text: stored as a plain string (never a formula) and
    shown as text by Excel, which will not turn it into a formula when someone edits it either."""
    if looks_like_formula(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True

"""Cells a spreadsheet program would run: formula injection ("CSV injection", OWASP).

Respondents write free text, and analysts open the exports in Excel or LibreOffice. A text cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read there as a formula
(``=cmd|' /C calc'!A0`` runs a program through DDE). Every CSV and XLSX the product writes goes
through here:

- :func:`neutralise` (and :func:`neutralise_frame` for a pandas table) puts an apostrophe before
  such a text, OWASP's rule, for files people open: the exports, the informe workbook, the wave
  links. Numbers are left alone (``-3`` stored as a number is a number, not a formula).
- :func:`keep_as_text` marks an openpyxl cell as text with Excel's own quote prefix, for files that
  must keep the text exactly because a program reads them back (the XLSForm for KoBo/pyxform).
"""

from __future__ import annotations

from typing import Any

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


def keep_as_text(cell: Any) -> None:
    """An openpyxl cell holding a formula-like text: stored as a plain string (never a formula) and
    shown as text by Excel, which will not turn it into a formula when someone edits it either."""
    if looks_like_formula(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True

"""Splitting long replies at natural boundaries, for channels with a message size limit."""

from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at a paragraph, else a line, else a space
    (a word longer than the limit is cut where it must be)."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        for separator in ("\n\n", "\n", " "):
            cut = window.rfind(separator)
            if cut >= limit // 3:  # a boundary far enough in: no tiny pieces
                break
        else:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces

"""Labelled corpora: ``analysis/coding/corpus/<codebook>.jsonl`` (+ ``shared.jsonl`` for the
codebooks that include the shared codes). One JSON object a line::

    {"id": "art-0001", "text": "...", "codes": ["integralidad_proceso"], "split": "train"}

The split is fixed in the file: training never draws a random split at run time, so a held-out
figure always means the same answers.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.coding import CORPUS_DIR
from analysis.coding.codebooks import EXCLUSIVE, SHARED, Codebook

SPLITS = ("train", "test")


class CorpusError(ValueError):
    """A corpus line that breaks the format (the message names the file and line)."""


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    codes: tuple[str, ...]
    split: str = "train"
    stance: str | None = None
    source: str = ""  # file (or "database") it came from


@dataclass
class CorpusReport:
    examples: int = 0
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # split → code → n
    problems: list[str] = field(default_factory=list)


def read_jsonl(path: Path, *, strict: bool = True) -> list[Example]:
    """Every example in a JSON-lines file (``split`` defaults to ``test`` for evaluation files)."""
    examples: list[Example] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            raw: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{where}: not JSON ({exc.msg})") from exc
        if not isinstance(raw, dict) or "text" not in raw:
            raise CorpusError(f"{where}: expected an object with 'text'")
        codes = raw.get("codes", [])
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise CorpusError(f"{where}: 'codes' must be a list of code ids")
        split = str(raw.get("split") or ("train" if strict else "test"))
        if split not in SPLITS:
            raise CorpusError(f"{where}: split {split!r} must be train or test")
        examples.append(Example(id=str(raw.get("id") or f"{path.stem}-{number}"), text=str(raw["text"] or ""),
                                codes=tuple(codes), split=split, stance=raw.get("stance"), source=path.name))
    return examples


def files_for(codebook: Codebook, directory: Path | None = None) -> list[Path]:
    directory = directory or CORPUS_DIR
    files = [directory / f"{codebook.id}.jsonl"]
    if codebook.include_shared:
        files.append(directory / f"{SHARED}.jsonl")
    return files


def missing_files(codebook: Codebook, directory: Path | None = None) -> list[Path]:
    return [p for p in files_for(codebook, directory) if not p.exists()]


def load(codebook: Codebook, directory: Path | None = None) -> list[Example]:
    """The corpus of ``codebook`` (its file, plus shared.jsonl when it includes the shared codes), validated."""
    missing = missing_files(codebook, directory)
    if missing:
        raise CorpusError(f"{codebook.id}: corpus file(s) missing: {', '.join(p.name for p in missing)}")
    examples = [e for path in files_for(codebook, directory) for e in read_jsonl(path)]
    report = validate(codebook, examples)
    if report.problems:
        raise CorpusError(f"{codebook.id}: " + "; ".join(report.problems[:10])
                          + (f" (+{len(report.problems) - 10} more)" if len(report.problems) > 10 else ""))
    return examples


def validate(codebook: Codebook, examples: list[Example]) -> CorpusReport:
    """Unique ids, known codes, at least one code, exclusive codes alone; counts per split and code."""
    report = CorpusReport(examples=len(examples), counts={s: Counter() for s in SPLITS})
    known = set(codebook.code_ids)
    seen: set[str] = set()
    for e in examples:
        if e.id in seen:
            report.problems.append(f"{e.source} {e.id}: duplicate id")
        seen.add(e.id)
        if not e.codes:
            report.problems.append(f"{e.source} {e.id}: no codes")
        unknown = [c for c in e.codes if c not in known]
        if unknown:
            report.problems.append(f"{e.source} {e.id}: unknown codes {unknown}")
        if len(e.codes) > 1 and EXCLUSIVE & set(e.codes):
            report.problems.append(f"{e.source} {e.id}: {sorted(EXCLUSIVE & set(e.codes))} must be alone")
        report.counts[e.split].update(set(e.codes))
    return report


def split(examples: list[Example], name: str) -> list[Example]:
    return [e for e in examples if e.split == name]

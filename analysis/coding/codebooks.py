"""Codebooks: editable, versioned YAML data (``analysis/coding/codebooks/<id>.yaml``).

A codebook lists the codes an open answer can get (multi-label). ``shared.yaml`` holds the codes
shared by the three "¿por qué?" codebooks of Bloque 4; a codebook with ``include_shared: true`` gets
them appended after its own. The effective version of such a codebook is ``<own>+shared.<shared>``,
so a change in either file changes the version recorded with every coded answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from analysis.coding import CODEBOOKS_DIR

SHARED = "shared"
OTHER = "otro"
NO_ANSWER = "sin_respuesta"
#: Codes that are never combined with another code (codebook rule, enforced by the coder).
EXCLUSIVE = frozenset({OTHER, NO_ANSWER})
STANCES = ("positive", "negative", "neutral")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10× faster


class CodebookError(ValueError):
    """A codebook file that breaks the format (the message says which file and where)."""


@dataclass(frozen=True)
class Code:
    id: str
    label: str
    description: str = ""
    stance: str = "neutral"  # what the code says about the technical assistance
    examples: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    shared: bool = False  # comes from shared.yaml


@dataclass(frozen=True)
class Codebook:
    id: str
    version: str
    title: str
    codes: tuple[Code, ...]
    questions: tuple[str, ...] = ()
    source: str = ""
    include_shared: bool = False

    @property
    def code_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.codes)

    def code(self, code_id: str) -> Code:
        for c in self.codes:
            if c.id == code_id:
                return c
        raise KeyError(code_id)

    def unknown(self, code_ids: list[str] | tuple[str, ...]) -> list[str]:
        known = set(self.code_ids)
        return [c for c in code_ids if c not in known]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CodebookError(f"{where}: expected a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def _codes(raw: Any, where: str, shared: bool) -> list[Code]:
    if not isinstance(raw, list) or not raw:
        raise CodebookError(f"{where}: 'codes' must be a non-empty list")
    codes = []
    for i, item in enumerate(raw):
        at = f"{where}: codes[{i}]"
        if not isinstance(item, dict):
            raise CodebookError(f"{at}: expected a mapping")
        code_id = str(item.get("id") or "")
        if not _ID.match(code_id):
            raise CodebookError(f"{at}: id {code_id!r} must be lowercase letters, digits and _")
        if not str(item.get("label") or "").strip():
            raise CodebookError(f"{at} ({code_id}): a label is required")
        stance = str(item.get("stance") or "neutral")
        if stance not in STANCES:
            raise CodebookError(f"{at} ({code_id}): stance must be one of {', '.join(STANCES)}")
        codes.append(Code(
            id=code_id, label=str(item["label"]).strip(), description=str(item.get("description") or "").strip(),
            stance=stance, examples=_strings(item.get("examples"), f"{at}.examples"),
            keywords=_strings(item.get("keywords"), f"{at}.keywords"), shared=shared,
        ))
    return codes


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise CodebookError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CodebookError(f"{path.name}: expected a mapping")
    for key in ("id", "version", "codes"):
        if not data.get(key):
            raise CodebookError(f"{path.name}: '{key}' is required")
    if path.stem != str(data["id"]):
        raise CodebookError(f"{path.name}: id {data['id']!r} must match the file name")
    return data


def parse(path: Path, shared: Codebook | None = None) -> Codebook:
    """One codebook file; ``shared`` is appended when the file says ``include_shared: true``."""
    data = _read(path)
    codes = _codes(data["codes"], path.name, shared=data["id"] == SHARED)
    version = str(data["version"])
    include = bool(data.get("include_shared", False))
    if include:
        if shared is None:
            raise CodebookError(f"{path.name}: include_shared needs shared.yaml")
        codes += list(shared.codes)
        version = f"{version}+shared.{shared.version}"
    seen: set[str] = set()
    for c in codes:
        if c.id in seen:
            raise CodebookError(f"{path.name}: code {c.id!r} appears twice (own codes and shared codes included)")
        seen.add(c.id)
    return Codebook(id=str(data["id"]), version=version, title=str(data.get("title") or data["id"]),
                    codes=tuple(codes), questions=_strings(data.get("questions"), f"{path.name}.questions"),
                    source=str(data.get("source") or ""), include_shared=include)


def available(directory: Path | None = None) -> list[str]:
    """Codebook ids with a file in ``directory`` (shared.yaml is not a codebook of its own)."""
    directory = directory or CODEBOOKS_DIR
    return sorted(p.stem for p in directory.glob("*.yaml") if p.stem != SHARED)


def load(codebook_id: str, directory: Path | None = None) -> Codebook:
    """The codebook ``codebook_id`` with its shared codes merged (files read on every call)."""
    directory = directory or CODEBOOKS_DIR
    path = directory / f"{codebook_id}.yaml"
    if not path.exists():
        raise CodebookError(f"unknown codebook {codebook_id!r} (have: {', '.join(available(directory)) or 'none'})")
    shared_path = directory / f"{SHARED}.yaml"
    shared = parse(shared_path) if shared_path.exists() else None
    return parse(path, shared)


def load_all(directory: Path | None = None) -> dict[str, Codebook]:
    return {cid: load(cid, directory) for cid in available(directory)}


@lru_cache(maxsize=32)
def cached(codebook_id: str, directory: Path | None = None) -> Codebook:
    """:func:`load`, parsed once per process (for the per-answer paths)."""
    return load(codebook_id, directory)


@lru_cache(maxsize=1)
def all_code_ids() -> frozenset[str]:
    """Every code id of every codebook (the API's document lists them; a code of another codebook
    than an answer's is a conflict, not a typo)."""
    return frozenset(code for codebook_id in available() for code in cached(codebook_id).code_ids)

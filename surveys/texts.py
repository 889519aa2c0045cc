"""Respondent-facing system texts, loaded from ``texts.es.yaml`` (data, not code)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


class Texts:
    def __init__(self, data: dict[str, Any]):
        self._data = data
        self._words: dict[str, tuple[str, ...]] = {}  # the data never changes: each list built once

    def __call__(self, key: str, **fmt: Any) -> str:
        node: Any = self._data
        for part in key.split("."):
            node = node[part]
        return str(node).format(**fmt) if fmt else str(node)

    def words(self, key: str) -> tuple[str, ...]:
        """A list of words or phrases (e.g. how people name a menu choice); () when the key is absent."""
        found = self._words.get(key)
        if found is None:
            found = self._words[key] = self._read_words(key)
        return found

    def _read_words(self, key: str) -> tuple[str, ...]:
        node: Any = self._data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return ()
            node = node[part]
        return tuple(str(w) for w in node) if isinstance(node, list) else (str(node),)

    def has(self, key: str) -> bool:
        try:
            self(key)
        except KeyError:
            return False
        return True


@cache
def texts(language: str = "es") -> Texts:
    ref = resources.files("surveys") / f"texts.{language}.yaml"
    return Texts(yaml.safe_load(ref.read_text(encoding="utf-8")))

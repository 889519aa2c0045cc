"""The help desk's theme suggestions backed by the ``temas`` coder of ``analysis.coding``
(a ``bot.helpdesk.themes.ThemeClassifier``).

When the ``temas`` model files exist, :class:`ModelThemeClassifier` proposes the themes the model
gives (``otro`` and ``sin_respuesta`` are not themes to suggest) together with the keyword
classifier's matches: a theme found by either is proposed, scored by the higher of the two. Short
texts (fewer than three words: "1", "hola", "menu") are left to the keyword classifier alone, so
menu replies are never mistaken for a need. Without model files it is the keyword classifier.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from analysis.coding.codebooks import EXCLUSIVE
from bot.helpdesk.themes import KeywordClassifier, ThemeClassifier

log = logging.getLogger(__name__)
CODEBOOK = "temas"
MIN_WORDS = 3
WARM_EVERY_S = 1.0


class ModelThemeClassifier:
    def __init__(self, fallback: ThemeClassifier, models_dir: Path | None = None, *, min_score: float = 0.5,
                 max_themes: int = 3):
        self.fallback = fallback
        self.models_dir = models_dir
        self.min_score = min_score
        self.max_themes = max_themes
        self._coder: Any = None
        self._warmed: float | None = None  # time.monotonic() of the last ``warm``

    def warm(self) -> None:
        """Load the model now (again when its files changed; looked at once a second at most): the
        chat service calls this before it locks a contact's row, so a turn never waits for spaCy
        while holding the lock."""
        from analysis.coding import registry

        now = time.monotonic()
        if self._warmed is not None and now - self._warmed < WARM_EVERY_S:
            return
        self._coder = registry.get(CODEBOOK, self.models_dir)
        self._warmed = now

    def classify(self, text: str) -> list[tuple[str, float]]:
        found = dict(self.fallback.classify(text))
        if len((text or "").split()) >= MIN_WORDS:
            from analysis.coding import registry

            coder = self._coder if self._warmed is not None else registry.get(CODEBOOK, self.models_dir)
            if coder is not None:
                try:
                    prediction = coder.predict_one(text)
                except Exception:  # suggestions are a convenience: never fail the turn
                    log.exception("temas coder failed; keyword themes only")
                else:
                    for code in prediction.codes:
                        score = prediction.scores.get(code, 0.0)
                        if code not in EXCLUSIVE and score >= self.min_score:
                            found[code] = max(found.get(code, 0.0), round(score, 3))
        ranked = sorted(found.items(), key=lambda kv: -kv[1])
        return ranked[: self.max_themes]


def theme_classifier(fallback: ThemeClassifier | None = None, models_dir: Path | None = None) -> ThemeClassifier:
    """The model-backed classifier when the ``temas`` model exists, else the keyword classifier."""
    from analysis.coding import registry

    fallback = fallback if fallback is not None else KeywordClassifier()
    if registry.exists(CODEBOOK, models_dir):
        return ModelThemeClassifier(fallback, models_dir)
    return fallback

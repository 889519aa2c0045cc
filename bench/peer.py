"""The peer the coder is measured against: what a data analyst writes in 30 lines with scikit-learn.

TF-IDF of the raw text (word 1–2-grams + ``char_wb`` 2–5-grams, each block scaled to unit length,
scikit-learn's defaults otherwise: lowercase, accents kept) and one logistic regression per code
(``C=10``, ``class_weight="balanced"``); a code is given at p ≥ 0.5, else the likeliest one. Trained
on exactly the coder's training answers (the corpus's ``train`` split + the codebook's example
phrases).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_union


class Peer:
    def __init__(self, codes: Sequence[str]):
        self.codes = list(codes)
        self.vectorizer: FeatureUnion = make_union(TfidfVectorizer(analyzer="word", ngram_range=(1, 2)),
                                                   TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)))
        self.models: list[LogisticRegression | bool] = []

    def fit(self, texts: Sequence[str], gold: Sequence[Sequence[str]]) -> Peer:
        x = self.vectorizer.fit_transform(texts)
        self.models = []
        for code in self.codes:
            y = np.array([code in g for g in gold])
            constant = bool(y.all()) if y.all() or not y.any() else None
            self.models.append(constant if constant is not None else
                               LogisticRegression(C=10, class_weight="balanced", max_iter=2000).fit(x, y))
        return self

    def predict(self, texts: Sequence[str]) -> list[list[str]]:
        x = self.vectorizer.transform(texts)
        p = np.column_stack([np.full(x.shape[0], float(m)) if isinstance(m, bool) else m.predict_proba(x)[:, 1]
                             for m in self.models])
        return [[c for c, v in zip(self.codes, row, strict=True) if v >= 0.5] or [self.codes[int(row.argmax())]]
                for row in p]

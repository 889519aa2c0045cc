"""A linear text classifier as a spaCy pipeline component (``m360_linear``): TF-IDF of the features a
``Doc`` carries as its words, one L2-regularised logistic regression per code.

The features come in two blocks, each weighted TF-IDF and scaled to unit length on its own (as
scikit-learn's ``FeatureUnion`` of two ``TfidfVectorizer`` does): the word block (lemmas, stems,
negation marks, lemma bigrams) and the character block (words marked ``c:``: character n-grams,
robust to typos and missing accents). The regressions are fitted with scikit-learn
(``LogisticRegression``, ``class_weight="balanced"``: a rare code weighs as much as a frequent one);
predicting needs numpy and scipy's sparse matrices (a scikit-learn dependency): the vocabulary, the
IDF weights and the coefficients are saved with the pipeline (no pickle).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

CHAR_MARK = "c:"


class LinearCats:
    """Sets ``doc.cats`` (code → probability) from the features in ``doc``'s words."""

    def __init__(self, vocab: Vocab, name: str = "m360_linear"):
        self.vocab, self.name = vocab, name
        self.labels: list[str] = []
        self.index: dict[str, int] = {}
        self.idf = np.zeros(0)
        self.chars = np.zeros(0, dtype=bool)  # which features are of the character block
        self.coef = np.zeros((0, 0))  # codes × features
        self.intercept = np.zeros(0)

    # -- fitting

    def fit(self, features: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], labels: Sequence[str],
            c: float = 10.0) -> LinearCats:
        from sklearn.linear_model import LogisticRegression

        self.labels = list(labels)
        vocabulary: dict[str, int] = {}
        for words in features:
            for w in words:
                vocabulary.setdefault(w, len(vocabulary))
        self.index = vocabulary
        df = np.zeros(len(vocabulary))
        for words in features:
            df[[vocabulary[w] for w in set(words)]] += 1
        n = len(features)
        self.idf = np.log((1 + n) / (1 + df)) + 1  # scikit-learn's smooth IDF
        self.chars = np.array([w.startswith(CHAR_MARK) for w in vocabulary], dtype=bool)
        x = self._matrix(features)
        self.coef = np.zeros((len(labels), len(vocabulary)))
        self.intercept = np.zeros(len(labels))
        for j, label in enumerate(labels):
            y = np.array([label in g for g in gold])
            if y.all() or not y.any():
                self.intercept[j] = 30.0 if y.all() else -30.0
                continue
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, solver="liblinear")
            model.fit(x, y)
            self.coef[j], self.intercept[j] = model.coef_[0], model.intercept_[0]
        return self

    # -- predicting

    def _matrix(self, features: Sequence[Iterable[str]]) -> Any:
        """The (answers × features) TF-IDF matrix, sparse: counts × IDF, each block (words, characters)
        of each answer scaled to unit length. Vectorised over the batch (a loop per answer in Python
        costs more than the product)."""
        from scipy.sparse import coo_matrix, csr_matrix

        get = self.index.get
        rows: list[int] = []
        cols: list[int] = []
        for r, words in enumerate(features):
            found = [i for i in map(get, words) if i is not None]
            rows += [r] * len(found)
            cols += found
        shape = (len(features), len(self.index))
        counts = coo_matrix((np.ones(len(cols)), (rows, cols)), shape=shape).tocsr().tocoo()  # duplicates summed
        weights = counts.data * self.idf[counts.col]
        block = counts.row * 2 + self.chars[counts.col]
        norms = np.sqrt(np.bincount(block, weights=weights ** 2, minlength=2 * len(features)))
        return csr_matrix((weights / norms[block], (counts.row, counts.col)), shape=shape)

    def scores(self, features: Sequence[Iterable[str]]) -> np.ndarray:
        """(answers × codes) probabilities, the batch as one sparse product."""
        if not len(features):
            return np.zeros((0, len(self.labels)))
        z = np.asarray(self._matrix(features) @ self.coef.T) + self.intercept
        return 1 / (1 + np.exp(-np.clip(z, -30, 30)))

    def __call__(self, doc: Doc) -> Doc:
        doc.cats = dict(zip(self.labels, self.scores([[t.text for t in doc]])[0].tolist(), strict=True))
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 256) -> Iterator[Doc]:
        for doc in docs:
            yield self(doc)

    # -- files (spaCy calls these from nlp.to_disk / spacy.load)

    def to_disk(self, path: Path, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / "cfg.json", {"labels": self.labels, "vocabulary": list(self.index)})
        np.savez(path / "weights.npz", idf=self.idf, coef=self.coef.astype(np.float32),
                 intercept=self.intercept)

    def from_disk(self, path: Path, exclude: Iterable[str] = ()) -> LinearCats:
        path = Path(path)
        cfg: dict[str, Any] = srsly.read_json(path / "cfg.json")
        self.labels = list(cfg["labels"])
        self.index = {w: i for i, w in enumerate(cfg["vocabulary"])}
        with np.load(path / "weights.npz") as data:
            self.idf, self.coef, self.intercept = data["idf"], data["coef"].astype(float), data["intercept"]
        self.chars = np.array([w.startswith(CHAR_MARK) for w in self.index], dtype=bool)
        return self


@Language.factory("m360_linear")
def make_linear(nlp: Language, name: str) -> LinearCats:
    return LinearCats(nlp.vocab, name)

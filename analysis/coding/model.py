"""The coder of one codebook: analyser → rules + ``textcat_multilabel`` → calibrated scores → codes.

Files (one folder per codebook under ``M360_MODELS_DIR``)::

    <codebook>/analyser/   spaCy pipeline: blank("es") tokenizer + lookup lemmatizer (pruned folded table)
    <codebook>/textcat/    spaCy pipeline: textcat_multilabel over the lemmas (BOW uni+bigrams)
    <codebook>/coder.json  codebook version, calibration weights (plain, stacked, blend), threshold,
                           held-out evaluation, hash

The text classifier reads lemmas, not the surface text: ``Doc(words=lemmas)`` is what it is trained on
and what it scores, so "capacitaron", "capacitacion" and "capacitaciones" are one feature.

Decision: a code is given when its calibrated score is ≥ 0.5. ``otro`` and ``sin_respuesta`` are
exclusive (dropped when a substantive code is given). Text with no words (".", "jajaja", empty)
is ``sin_respuesta`` outright. When nothing reaches 0.5 the best code is given anyway (``codes`` is
never empty) and its low score sends the answer to review. The answer's confidence is the lowest,
over all codes, of the score of the decision taken (p if given, 1 − p if not); it is auto-accepted when
confidence ≥ the codebook's threshold (chosen on the held-out split, docs/coding.md).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import spacy
from spacy.attrs import IS_PUNCT, IS_SPACE, LEMMA, ORTH
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example as SpacyExample
from spacy.util import fix_random_seed, minibatch
from thinc.api import Adam

from analysis.coding import calibration
from analysis.coding.codebooks import EXCLUSIVE, NO_ANSWER, Codebook
from analysis.coding.lemmas import docs
from analysis.coding.normalize import is_meaningless
from analysis.coding.rules import CLAUSE_BREAKS, NEGATION_CUES, WINDOW, RuleLayer

SEED = 20261122
EMPTY = "__vacio__"
PREFIX, PREFIX_LEN = "p:", 5
NEGATED = "n:"
FORMAT = 4  # bump when the features or the files change: older models are refused (retrain)
TEXTCAT = {
    "@architectures": "spacy.TextCatBOW.v3",
    "exclusive_classes": False,
    "ngram_size": 2,
    "no_output_layer": False,
    "length": 65536,  # hashed n-gram buckets: the Adam update is dense, so size is training time
}


@dataclass(frozen=True)
class Prediction:
    codes: list[str]
    scores: dict[str, float]
    needs_review: bool
    confidence: float

    def as_json(self) -> dict[str, Any]:
        return {"codes": self.codes, "scores": self.scores, "needs_review": self.needs_review}


# ---------------------------------------------------------------- the text classifier


def feature_words(doc: Doc) -> list[str]:
    """What the text classifier reads: the lemmas in order (so its bigrams are lemma bigrams), then

    - a 5-letter prefix of every longer lemma ("p:superf" for superficial, superficiales,
      superficialmente): a stem that carries unseen derivations and typos at the end of a word;
    - every lemma in the scope of a negation cue, marked ("n:conexion" in "no hubo problemas de
      conexion", "n:cambiar" in "el equipo no ha cambiado"): the scope is the rule layer's (up to
      four words after no/sin/nunca/ni/…, cut by punctuation and clause words such as pero, aunque,
      porque), so the model can tell a problem denied from a problem stated.
    """
    words, negated = lemmas_in_scope(doc)
    if not words:
        return [EMPTY]
    return (words + [PREFIX + w[:PREFIX_LEN] for w in words if len(w) > PREFIX_LEN]
            + [NEGATED + w for w in negated])


def lemmas_in_scope(doc: Doc) -> tuple[list[str], list[str]]:
    """(lemmas of the word tokens, the lemmas among them that are in a negation's scope)."""
    if not len(doc):
        return [], []
    strings = doc.vocab.strings
    words: list[str] = []
    negated: list[str] = []
    left = 0
    for lemma, orth, punct, space in doc.to_array([LEMMA, ORTH, IS_PUNCT, IS_SPACE]).tolist():
        if space:
            continue
        if punct:
            left = 0
            continue
        text = strings[orth]
        word = strings[lemma or orth]
        words.append(word)
        if text in NEGATION_CUES or word in NEGATION_CUES:
            left = WINDOW
        elif text in CLAUSE_BREAKS:
            left = 0
        elif left:
            negated.append(word)
            left -= 1
    return words, negated


def new_textcat(codes: Sequence[str]) -> Language:
    nlp = spacy.blank("es")
    textcat = nlp.add_pipe("textcat_multilabel", config={"model": TEXTCAT, "threshold": 0.5})
    for code in codes:
        textcat.add_label(code)
    return nlp


def train_textcat(codes: Sequence[str], words: Sequence[list[str]], gold: Sequence[Sequence[str]],
                  *, epochs: int = 12, seed: int = SEED, dropout: float = 0.2, batch_size: int = 32,
                  learn_rate: float = 0.005) -> Language:
    """A textcat_multilabel trained on lemma lists; same inputs and seed → same weights."""
    fix_random_seed(seed)
    nlp = new_textcat(codes)
    examples = [SpacyExample.from_dict(Doc(nlp.vocab, words=w), {"cats": {c: float(c in g) for c in codes}})
                for w, g in zip(words, gold, strict=True)]
    nlp.initialize(lambda: examples)
    optimizer = Adam(learn_rate=learn_rate)
    order = random.Random(seed)
    for _ in range(epochs):
        order.shuffle(examples)
        for batch in minibatch(examples, size=batch_size):
            nlp.update(batch, drop=dropout, sgd=optimizer)
    return nlp


def score_textcat(nlp: Language, words: Sequence[list[str]]) -> list[dict[str, float]]:
    docs = (Doc(nlp.vocab, words=w) for w in words)
    return [dict(doc.cats) for doc in nlp.pipe(docs, batch_size=256)]


# ---------------------------------------------------------------- decisions


def decide(codes: Sequence[str], scores: dict[str, float], meaningless: bool,
           cutoffs: dict[str, float] | None = None) -> tuple[list[str], float]:
    """(codes given, confidence) from calibrated scores; see the module docstring."""
    if meaningless and NO_ANSWER in codes:
        return [NO_ANSWER], 1.0
    cut = cutoffs or {}
    given = [c for c in codes if scores[c] >= cut.get(c, 0.5)]
    substantive = [c for c in given if c not in EXCLUSIVE]
    if substantive:
        given = substantive
    elif given:
        given = [max(given, key=lambda c: scores[c])]
    else:
        given = [max(codes, key=lambda c: scores[c])]
    confidence = confidence_of(codes, scores, given)
    return sorted(given, key=lambda c: -scores[c]), confidence


def confidence_of(codes: Sequence[str], scores: dict[str, float], given: Sequence[str]) -> float:
    """How sure the coder is of the whole answer: the least sure of its per-code decisions."""
    return min(scores[c] if c in given else 1 - scores[c] for c in codes)


# ---------------------------------------------------------------- the coder


class Coder:
    """A loaded (or freshly trained) coder of one codebook. Thread-safe for predictions."""

    def __init__(self, codebook: Codebook, analyser: Language, textcat: Language,
                 weights: dict[str, Sequence[float]], threshold: float, meta: dict[str, Any] | None = None):
        self.codebook = codebook
        self.analyser = analyser
        self.textcat = textcat
        self.rules = RuleLayer(codebook, analyser)
        self.weights = {c: tuple(weights.get(c, calibration.IDENTITY)) for c in codebook.code_ids}
        self.threshold = threshold
        self.meta = dict(meta or {})
        self.cutoffs: dict[str, float] = dict(self.meta.get("cutoffs") or {})
        self._weights = np.array([self.weights[c] for c in codebook.code_ids], dtype=float)
        # The second calibrator (every code's regression also reads all codes' model scores) and the
        # share of the first in the blend (calibration.py, docs/coding.md).
        stacked = self.meta.get("stacked_weights") or {}
        self.blend = float(self.meta.get("blend", 1.0)) if stacked else 1.0
        self._stacked = (np.array([stacked[c] for c in codebook.code_ids], dtype=float)
                         if stacked and self.blend < 1.0 else None)

    @property
    def codes(self) -> tuple[str, ...]:
        return self.codebook.code_ids

    @property
    def model_hash(self) -> str:
        return str(self.meta.get("model_hash", ""))

    @property
    def version(self) -> str:
        """What is recorded with every coded answer: codebook version + model hash."""
        return f"{self.codebook.version}+{self.model_hash[:12]}"

    def raw_scores(self, texts: Sequence[str]) -> tuple[list[Doc], list[dict[str, float]]]:
        analysed = docs(self.analyser, texts)
        return analysed, score_textcat(self.textcat, [feature_words(d) for d in analysed])

    def predict(self, texts: Iterable[str]) -> list[Prediction]:
        texts = list(texts)
        if not texts:
            return []
        analysed, model_scores = self.raw_scores(texts)
        codes = self.codes
        score = np.array([[ms.get(c, 0.0) for c in codes] for ms in model_scores])
        rules = [self.rules.features(d) for d in analysed]
        support = np.array([[r[c][0] for c in codes] for r in rules], dtype=float)
        against = np.array([[r[c][1] for c in codes] for r in rules], dtype=float)
        calibrated = calibration.apply_matrix(self._weights, score, support, against)
        if self._stacked is not None:
            calibrated = (self.blend * calibrated
                          + (1 - self.blend) * calibration.apply_matrix(self._stacked, score, support, against))
        calibrated = calibrated.round(4).tolist()
        out = []
        for doc, row in zip(analysed, calibrated, strict=True):
            scores = dict(zip(codes, row, strict=True))
            given, confidence = decide(codes, scores, is_meaningless(_text(doc)), self.cutoffs)
            out.append(Prediction(given, scores, confidence < self.threshold, round(confidence, 4)))
        return out

    def predict_one(self, text: str) -> Prediction:
        return self.predict([text])[0]

    # -- files

    def save(self, directory: Path) -> str:
        """Write the model files; returns the model hash (SHA-256 of the weights, tables and calibration)."""
        directory.mkdir(parents=True, exist_ok=True)
        for nlp in (self.analyser, self.textcat):
            # Words are split by lemmas.docs, never by spaCy's tokenizer: its 1,100 Spanish special cases
            # would only cost load time (0.3 s a pipeline).
            nlp.tokenizer.rules = {}
        self.analyser.to_disk(directory / "analyser")
        self.textcat.to_disk(directory / "textcat")
        self.meta["model_hash"] = ""
        model_hash = _hash_files(directory, {"weights": self.weights, "threshold": self.threshold,
                                             "stacked_weights": self.meta.get("stacked_weights"),
                                             "blend": self.meta.get("blend")})
        self.meta.update(format=FORMAT, codebook=self.codebook.id, codebook_version=self.codebook.version,
                         codes=list(self.codes), weights={c: list(w) for c, w in self.weights.items()},
                         threshold=self.threshold, model_hash=model_hash)
        (directory / "coder.json").write_text(json.dumps(self.meta, ensure_ascii=False, indent=2, sort_keys=True)
                                              + "\n", encoding="utf-8")
        return model_hash

    @classmethod
    def load(cls, directory: Path, codebook: Codebook) -> Coder:
        meta = json.loads((directory / "coder.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{directory}: model format {meta.get('format')} (expected {FORMAT}): retrain")
        if list(meta.get("codes", [])) != list(codebook.code_ids):
            raise ValueError(f"{directory}: trained for codes {meta.get('codes')}, codebook has {codebook.code_ids}:"
                             " retrain (m360 coder train)")
        analyser = spacy.load(directory / "analyser")
        textcat = spacy.load(directory / "textcat")
        return cls(codebook, analyser, textcat, meta["weights"], float(meta["threshold"]), meta)


def _text(doc: Doc) -> str:
    """The words of ``doc`` joined by spaces: what ``doc.text`` gives for a Doc built from words, without
    creating a Token object per word (a tenth of the prediction time)."""
    strings = doc.vocab.strings
    return " ".join(strings[o] for o in doc.to_array([ORTH]).tolist()) if len(doc) else ""


def _hash_files(directory: Path, extra: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for sub in ("analyser", "textcat"):
        for path in sorted((directory / sub).rglob("*")):
            if path.is_file() and path.name != "meta.json":  # meta.json has spaCy's own timestamps/versions
                digest.update(str(path.relative_to(directory)).encode())
                digest.update(path.read_bytes())
    digest.update(json.dumps(extra, sort_keys=True).encode())
    return digest.hexdigest()

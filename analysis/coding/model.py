"""The coder of one codebook: analyser → rules + classifiers (one per view) → calibrated scores → codes.

Files (one folder per codebook under ``M360_MODELS_DIR``)::

    <codebook>/analyser/        spaCy pipeline: blank("es") tokenizer + lookup lemmatizer (pruned folded table)
    <codebook>/view_lemmas/     spaCy pipeline: textcat_multilabel over the lemmas (BOW uni+bigrams)
    <codebook>/view_linear/     spaCy pipeline: m360_linear (TF-IDF + logistic regression per code over
                                lemma features and character n-grams)
    <codebook>/coder.json       codebook version, views, calibration weights (plain, stacked, blend),
                                threshold, cross-validated and held-out evaluation, hash

The classifiers read features of the analysed text, not the surface text: lemmas (so "capacitaron",
"capacitacion" and "capacitaciones" are one feature), stems, negation scope, character n-grams.

Decision: a code is given when its calibrated score is ≥ the codebook's cut-off (0.5, or lower
when cross-validation on the training answers found a lower one better for macro-F1: such a code,
below 0.5, only ever reaches a reviewer). ``otro`` and ``sin_respuesta`` are exclusive (dropped
when a substantive code is given). Text with no words (".", "jajaja", empty) is ``sin_respuesta``
outright. When nothing reaches the cut-off the likeliest code is named as a *suggestion* for the
reviewer and the answer always waits for review: a guess is never a decided coding (reports count
decided codings only). The answer's confidence is the lowest, over the codes the codebook's routing
rule counts (every code, or only the codes given and the plausible ones: ``routing.Rule``, chosen by
training), of the score of the decision taken (p if given, 1 − p if not); it is auto-accepted when
confidence ≥ the codebook's threshold (chosen by cross-validation on the training answers,
docs/coding.md).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterable, Sequence
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

from analysis.coding import calibration, routing
from analysis.coding.codebooks import EXCLUSIVE, NO_ANSWER, Codebook
from analysis.coding.lemmas import docs
from analysis.coding.linear import CHAR_MARK  # also registers the m360_linear component
from analysis.coding.normalize import is_meaningless
from analysis.coding.routing import Rule
from analysis.coding.rules import CLAUSE_BREAKS, NEGATION_CUES, WINDOW, RuleLayer

SEED = 20261122
EMPTY = "__vacio__"
PREFIX, PREFIX_LEN = "p:", 5
NEGATED = "n:"
FORMAT = 5  # bump when the features or the files change: older models are refused (retrain)
#: Character n-grams of each word, padded with a space at both ends (scikit-learn's ``char_wb``):
#: typos, missing accents and unseen inflections still share most of their n-grams with the word.
CHAR_GRAMS = (2, 5)


def textcat_config(ngram_size: int, length: int) -> dict[str, Any]:
    return {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": False, "ngram_size": ngram_size,
            "no_output_layer": False, "length": length}  # hashed buckets: the Adam update is dense, so size is time


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
    return _lemma_features(*lemmas_in_scope(doc))


def _lemma_features(words: list[str], negated: list[str]) -> list[str]:
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


def char_grams(doc: Doc) -> list[str]:
    """The character n-grams (``CHAR_GRAMS``) of every word of ``doc`` (normalised text: lowercase,
    accents folded, chat abbreviations expanded), each word padded with spaces."""
    strings = doc.vocab.strings
    lo, hi = CHAR_GRAMS
    grams: list[str] = []
    for orth, punct, space in doc.to_array([ORTH, IS_PUNCT, IS_SPACE]).tolist() if len(doc) else []:
        if punct or space:
            continue
        word = f" {strings[orth]} "
        for n in range(lo, min(hi, len(word)) + 1):
            grams.extend(word[i:i + n] for i in range(len(word) - n + 1))
    return grams or [EMPTY]


def linear_features(doc: Doc) -> list[str]:
    """What the linear view reads: the lemma features, lemma bigrams, and the character n-grams
    (marked ``c:``, the linear model's second block)."""
    lemmas, negated = lemmas_in_scope(doc)
    return (_lemma_features(lemmas, negated) + [f"{a} {b}" for a, b in zip(lemmas, lemmas[1:], strict=False)]
            + [CHAR_MARK + g for g in char_grams(doc)])


def surface_features(doc: Doc) -> list[str]:
    """What the surface view reads: the peer's representation of an answer (word uni- and bigrams,
    character n-grams of each word) over the normalised words as typed, no lemmas, stems or negation."""
    strings = doc.vocab.strings
    words = [strings[o] for o, punct, space in (doc.to_array([ORTH, IS_PUNCT, IS_SPACE]).tolist() if len(doc) else [])
             if not (punct or space)]
    bigrams = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return words + bigrams + [CHAR_MARK + g for g in char_grams(doc)]


@dataclass(frozen=True)
class View:
    """One way the classifiers read an answer: a classifier is trained per view, and the calibration
    weighs their scores per code. ``kind``: ``textcat`` (spaCy ``textcat_multilabel``, bag of
    ``ngram_size``-grams hashed into ``length`` buckets) or ``linear`` (:mod:`analysis.coding.linear`)."""

    name: str
    features: Callable[[Doc], list[str]]
    kind: str
    ngram_size: int = 1
    length: int = 0


#: ``lemmas``: spaCy's textcat over the lemmas (+ stems and negation scope, uni- and bigrams);
#: ``linear``: TF-IDF + logistic regression over the lemma features, lemma bigrams and the words'
#: character n-grams; ``chars``: a textcat over the character n-grams (measured, not used: it added
#: nothing to the other two in cross-validation and is the slowest to train); ``surface``: the peer's
#: representation (words and character n-grams as typed) in the linear model (measured, not used:
#: no gain in cross-validation, docs/coding.md).
ALL_VIEWS = {v.name: v for v in (View("lemmas", feature_words, "textcat", 2, 65536),
                                  View("chars", char_grams, "textcat", 1, 131072),
                                  View("linear", linear_features, "linear"),
                                  View("surface", surface_features, "linear"))}
VIEWS = tuple(ALL_VIEWS[name] for name in ("lemmas", "linear"))


def new_textcat(codes: Sequence[str], view: View) -> Language:
    nlp = spacy.blank("es")
    textcat = nlp.add_pipe("textcat_multilabel", config={"model": textcat_config(view.ngram_size, view.length),
                                                          "threshold": 0.5})
    for code in codes:
        textcat.add_label(code)
    return nlp


def train_view(codes: Sequence[str], words: Sequence[list[str]], gold: Sequence[Sequence[str]], view: View,
               *, epochs: int = 12, seed: int = SEED) -> Language:
    """The classifier of ``view`` trained on its feature lists; same inputs and seed → same weights."""
    if view.kind == "linear":
        nlp = spacy.blank("es")
        nlp.add_pipe("m360_linear").fit(words, gold, codes)
        return nlp
    return train_textcat(codes, words, gold, view, epochs=epochs, seed=seed)


def train_textcat(codes: Sequence[str], words: Sequence[list[str]], gold: Sequence[Sequence[str]], view: View,
                  *, epochs: int = 12, seed: int = SEED, dropout: float = 0.2, batch_size: int = 32,
                  learn_rate: float = 0.005) -> Language:
    """A textcat_multilabel trained on feature lists of ``view``; same inputs and seed → same weights."""
    fix_random_seed(seed)
    nlp = new_textcat(codes, view)
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


def score_view(nlp: Language, words: Sequence[list[str]], codes: Sequence[str]) -> np.ndarray:
    """(answers × codes) scores of a trained classifier on feature lists."""
    if "m360_linear" in nlp.pipe_names:  # reads the feature lists directly, the batch at once: no Doc needed
        linear = nlp.get_pipe("m360_linear")
        found, column = linear.scores(words), {label: j for j, label in enumerate(linear.labels)}
        out = np.zeros((len(words), len(codes)))
        for k, code in enumerate(codes):
            if code in column:
                out[:, k] = found[:, column[code]]
        return out
    rows = [doc.cats for doc in nlp.pipe((Doc(nlp.vocab, words=w) for w in words), batch_size=256)]
    return np.array([[r.get(code, 0.0) for code in codes] for r in rows], dtype=float).reshape(len(rows), len(codes))


# ---------------------------------------------------------------- decisions


def decide(codes: Sequence[str], scores: dict[str, float], meaningless: bool,
           cutoff: float = 0.5, rule: Rule = Rule.EVERY) -> tuple[list[str], float, bool]:
    """(codes given, confidence, guessed) from calibrated scores; see the module docstring. ``guessed``:
    no code reached the cut-off, so the best one is only a suggestion for the reviewer. A code given
    below 0.5 makes the confidence < 0.5: such an answer always waits for review too. ``rule``: which
    codes count in the confidence (:mod:`analysis.coding.routing`)."""
    if meaningless and NO_ANSWER in codes:
        return [NO_ANSWER], 1.0, False
    given = [c for c in codes if scores[c] >= cutoff]
    substantive = [c for c in given if c not in EXCLUSIVE]
    guessed = not given
    if substantive:
        given = substantive
    elif given:
        given = [max(given, key=lambda c: scores[c])]
    else:
        given = [max(codes, key=lambda c: scores[c])]
    confidence = routing.confidence(rule, codes, scores, given)
    return sorted(given, key=lambda c: -scores[c]), confidence, guessed


def rule_hits(rules: RuleLayer, analysed: Sequence[Doc], codes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(answers × codes) keyword hits for and against each code."""
    found = [rules.features(d) for d in analysed]
    support = np.array([[r[c][0] for c in codes] for r in found], dtype=float).reshape(len(found), len(codes))
    against = np.array([[r[c][1] for c in codes] for r in found], dtype=float).reshape(len(found), len(codes))
    return support, against


# ---------------------------------------------------------------- the coder


@dataclass(frozen=True)
class Calibrators:
    """The per-code regressions (calibration.py): the plain one and the stacked one, each
    (codes × features + 1), and the plain one's share of the blend."""

    plain: np.ndarray
    stacked: np.ndarray | None = None
    blend: float = 1.0

    def apply(self, scores: Sequence[np.ndarray], support: np.ndarray, against: np.ndarray) -> np.ndarray:
        out = calibration.apply(self.plain, calibration.design(scores, support, against))
        if self.stacked is not None and self.blend < 1.0:
            stacked = calibration.apply(self.stacked, calibration.design(scores, support, against, stacked=True))
            out = self.blend * out + (1 - self.blend) * stacked
        return out

    def as_json(self, codes: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"weights": {c: [float(v) for v in w] for c, w in zip(codes, self.plain, strict=True)},
                               "blend": self.blend}
        if self.stacked is not None:
            out["stacked_weights"] = {c: [float(v) for v in w] for c, w in zip(codes, self.stacked, strict=True)}
        return out

    @classmethod
    def from_json(cls, meta: dict[str, Any], codes: Sequence[str]) -> Calibrators:
        stacked = meta.get("stacked_weights")
        return cls(np.array([meta["weights"][c] for c in codes], dtype=float),
                   np.array([stacked[c] for c in codes], dtype=float) if stacked else None,
                   float(meta.get("blend", 1.0)))


class Coder:
    """A loaded (or freshly trained) coder of one codebook. Thread-safe for predictions."""

    def __init__(self, codebook: Codebook, analyser: Language, classifiers: Sequence[Language],
                 calibrators: Calibrators, threshold: float, meta: dict[str, Any] | None = None,
                 views: Sequence[View] = VIEWS):
        self.codebook = codebook
        self.analyser = analyser
        self.views = tuple(views)
        self.classifiers = list(classifiers)  # one per view
        self.rules = RuleLayer(codebook, analyser)
        self.calibrators = calibrators
        self.threshold = threshold
        self.meta = dict(meta or {})
        self.cutoff = float(self.meta.get("cutoff", 0.5))
        # Which codes count in an answer's confidence, chosen by training (a model saved without it: every code).
        self.routing = Rule(self.meta.get("routing", {}).get("rule", Rule.EVERY))
        self.cross_fitted: Any = None  # set by training.fit: its cross-fitted predictions (not saved)

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

    def inputs(self, texts: Sequence[str]) -> tuple[list[Doc], list[np.ndarray], np.ndarray, np.ndarray]:
        """What the calibration reads: the analysed answers, each view's classifier scores and the rule hits."""
        analysed = docs(self.analyser, texts)
        scores = [score_view(nlp, [view.features(d) for d in analysed], self.codes)
                  for view, nlp in zip(self.views, self.classifiers, strict=True)]
        return analysed, scores, *rule_hits(self.rules, analysed, self.codes)

    def predict(self, texts: Iterable[str]) -> list[Prediction]:
        texts = list(texts)
        if not texts:
            return []
        analysed, scores, support, against = self.inputs(texts)
        calibrated = self.calibrators.apply(scores, support, against).round(4).tolist()
        out = []
        for doc, row in zip(analysed, calibrated, strict=True):
            scores_of = dict(zip(self.codes, row, strict=True))
            given, confidence, guessed = decide(self.codes, scores_of, is_meaningless(_text(doc)), self.cutoff,
                                               self.routing)
            needs_review = guessed or confidence < max(self.threshold, 0.5)
            out.append(Prediction(given, scores_of, needs_review, round(confidence, 4)))
        return out

    def predict_one(self, text: str) -> Prediction:
        return self.predict([text])[0]

    # -- files

    def save(self, directory: Path) -> str:
        """Write the model files; returns the model hash (SHA-256 of the weights, tables and calibration)."""
        directory.mkdir(parents=True, exist_ok=True)
        for nlp in (self.analyser, *self.classifiers):
            # Words are split by lemmas.docs, never by spaCy's tokenizer: its 1,100 Spanish special cases
            # would only cost load time (0.3 s a pipeline).
            nlp.tokenizer.rules = {}
        self.analyser.to_disk(directory / "analyser")
        for view, nlp in zip(self.views, self.classifiers, strict=True):
            nlp.to_disk(directory / f"view_{view.name}")
        calibrators = self.calibrators.as_json(self.codes)
        self.meta["model_hash"] = ""
        model_hash = _hash_files(directory, self.views, {**calibrators, "threshold": self.threshold,
                                                         "cutoff": self.cutoff, "routing": self.routing.value})
        self.meta.update(format=FORMAT, codebook=self.codebook.id, codebook_version=self.codebook.version,
                         codes=list(self.codes), views=[v.name for v in self.views], threshold=self.threshold,
                         model_hash=model_hash, **calibrators)
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
        unknown = [name for name in meta.get("views", []) if name not in ALL_VIEWS]
        if unknown or not meta.get("views"):
            raise ValueError(f"{directory}: unknown views {unknown or meta.get('views')}: retrain")
        views = [ALL_VIEWS[name] for name in meta["views"]]
        classifiers = [spacy.load(directory / f"view_{view.name}") for view in views]
        return cls(codebook, analyser, classifiers, Calibrators.from_json(meta, codebook.code_ids),
                   float(meta["threshold"]), meta, views)


def _text(doc: Doc) -> str:
    """The words of ``doc`` joined by spaces: what ``doc.text`` gives for a Doc built from words, without
    creating a Token object per word (a tenth of the prediction time)."""
    strings = doc.vocab.strings
    return " ".join(strings[o] for o in doc.to_array([ORTH]).tolist()) if len(doc) else ""


def _hash_files(directory: Path, views: Sequence[View], extra: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for sub in ("analyser", *(f"view_{view.name}" for view in views)):
        for path in sorted((directory / sub).rglob("*")):
            if path.is_file() and path.name != "meta.json":  # meta.json has spaCy's own timestamps/versions
                digest.update(str(path.relative_to(directory)).encode())
                digest.update(path.read_bytes())
    digest.update(json.dumps(extra, sort_keys=True).encode())
    return digest.hexdigest()

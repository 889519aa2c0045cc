"""The packaged corpora (analysis/coding/corpus/): every codebook's corpus validates, and the answers added
later with a ``provenance`` (written for training, not by the evaluations' authors) stay in the train split
and away from the held-out answers, so the held-out figures keep meaning the same thing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.coding import CORPUS_DIR, codebooks, corpus
from analysis.coding.normalize import normalize

#: Word-set Jaccard (normalised words) at or above which an added answer counts as a copy of a test answer.
TOO_CLOSE = 0.5
#: Each round of added answers (its provenance) and the tag its ids carry: a round is told by its ids too.
ROUNDS = {"chat-2026-12": "-chat-", "hand-b-2026-12": "-hb-", "hand-c-2026-12": "-hc-", "hand-d-2026-12": "-hd-",
          "hand-e-2026-12": "-he-", "hand-f-2026-12": "-hf-",
          "hand-g-2026-12": "-hg-", "hand-h-2026-12": "-hh-", "hand-i-2026-12": "-hi-",
          "hand-j-2026-12": "-hj-", "hand-k-2026-12": "-hk-", "hand-l-2026-12": "-hl-",
          "hand-m-2026-12": "-hm-"}


def raw_lines() -> list[dict]:
    return [json.loads(line) for path in sorted(Path(CORPUS_DIR).glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("codebook", codebooks.available())
def test_every_packaged_corpus_validates(codebook: str) -> None:
    examples = corpus.load(codebooks.load(codebook))
    assert corpus.split(examples, "train") and corpus.split(examples, "test")


def test_added_answers_are_training_answers_unlike_any_test_answer() -> None:
    lines = raw_lines()
    added = [d for d in lines if d.get("provenance")]
    assert added, "no answer carries a provenance"
    assert {d["split"] for d in added} == {"train"}
    assert {d["provenance"] for d in added} <= ROUNDS.keys()
    assert all(ROUNDS[d["provenance"]] in d["id"] for d in added)
    tests = [set(normalize(d["text"]).split()) for d in lines if d["split"] == "test"]
    close = [d["text"] for d in added
             if (words := set(normalize(d["text"]).split()))
             and any(t and len(words & t) / len(words | t) >= TOO_CLOSE for t in tests)]
    assert not close


def test_audited_lines_are_training_lines_whose_codes_changed() -> None:
    # An audit decides a shape the corpus coded two ways and relabels the training lines that contradict
    # it (analysis/coding/corpus/NOTES.md); the held-out split is never relabelled, or the evaluation
    # would move towards the model's conventions.
    audited = [d for d in raw_lines() if "relabelled_from" in d]
    assert audited
    assert {d["split"] for d in audited} == {"train"}
    assert all(sorted(d["relabelled_from"]) != sorted(d["codes"]) for d in audited)

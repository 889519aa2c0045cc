"""Build the new-writer evaluation of the open-answer coder, ONCE (docs/coding.md, *New-writer evaluation*).

    python bench/build_new_writers.py            # writes bench/data/new_writers/<codebook>.jsonl

Each file holds two parts, one JSON object a line ``{"id", "text", "codes", "part"}``:

- ``written``: answers written by hand for this evaluation, in many people's styles (one-word
  verdicts, long rambling answers, two reasons in one, chat abbreviations, no accents, typos,
  sentences in the source report's own words). They are read from ``<codebook>.written.txt``
  (``codes<TAB>text``, codes comma-separated) and were not derived from the training corpus.
- ``perturbed``: a copy of the corpus's held-out split rewritten the way WhatsApp text arrives:
  accents dropped, typos, abbreviations (xq, q, tb, pa, x), no punctuation (voice dictation),
  all capitals, filler words. The perturbations are this script's own, seeded per answer, and
  nothing in the coder's training reads them.

The files are committed and never regenerated to make a model look better: the coder and the
peer are measured on them by ``bench/coder.py``; no model choice, threshold or training answer
is taken from them.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.coding import codebooks, corpus  # noqa: E402
from surveys.folding import fold  # noqa: E402

OUT = ROOT / "bench" / "data" / "new_writers"
SEED = "new-writers-2026-12"

ABBREVIATE = {"porque": ("xq", "pq", "porq", "x q"), "que": ("q", "k"), "también": ("tb", "tmb"),
              "tambien": ("tb", "tmb"), "para": ("pa", "pa", "x"), "por": ("x",), "muy": ("mui",),
              "bueno": ("bno",), "entonces": ("entons", "tons"), "información": ("info",), "municipio": ("mpio",),
              "secretaria": ("secre",), "secretaría": ("secre",), "gracias": ("grax", "grs"), "saludos": ("sds",)}
NEIGHBOURS = {"a": "sq", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj", "i": "uo",
              "j": "hk", "k": "jl", "l": "kñ", "m": "n", "n": "mb", "o": "ip", "p": "o", "q": "w", "r": "et",
              "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "xs"}
SOUNDS = (("v", "b"), ("b", "v"), ("ll", "y"), ("y", "ll"), ("ce", "se"), ("ci", "si"), ("z", "s"), ("s", "z"),
          ("qu", "k"), ("h", ""))
OPENERS = ("pues ", "bueno ", "la verdad ", "mmm ", "ome ", "ah ", "vea ", "pues mire ")
CLOSERS = (" jaja", " 👍", "...", " gracias", " 🙏", "!!", " y ya")


def strip_accents(text: str, keep_enye: bool) -> str:
    """Accents off; ñ kept or written n (both happen on phones without a Spanish keyboard)."""
    return fold(text, keep_case=True, keep_enye=keep_enye, compatibility=False)


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double", "neighbour", "sound"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    if kind == "neighbour":
        near = NEIGHBOURS.get(word[i].lower())
        return word[:i] + rng.choice(near) + word[i + 1:] if near else word
    for a, b in rng.sample(SOUNDS, len(SOUNDS)):
        if a in word:
            return word.replace(a, b, 1)
    return word


def perturb(text: str, rng: random.Random) -> str:
    """One writer's habits, two to four of them, applied to ``text``."""
    habits = rng.sample(("no_accents", "lower", "abbreviate", "typos", "no_punct", "filler", "caps"), rng.randint(2, 4))
    if "caps" in habits and ("lower" in habits or rng.random() < 0.5):
        habits.remove("caps")
    out = text
    if "lower" in habits:
        out = out.lower()
    if "no_accents" in habits:
        out = strip_accents(out, keep_enye=rng.random() < 0.7)
    words = out.split(" ")
    if "abbreviate" in habits:
        words = [rng.choice(ABBREVIATE[w.lower()]) if w.lower() in ABBREVIATE and rng.random() < 0.8 else w
                 for w in words]
    if "typos" in habits:
        candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        for i in rng.sample(candidates, min(len(candidates), rng.randint(1, 3))):
            words[i] = typo(words[i], rng)
    out = " ".join(words)
    if "no_punct" in habits:
        out = " ".join("".join(c for c in out if c.isalnum() or c.isspace() or c in "ñÑ").split())
    if "filler" in habits:
        out = (rng.choice(OPENERS) if rng.random() < 0.6 else "") + out + (rng.choice(CLOSERS) if rng.random() < 0.6
                                                                          else "")
    if "caps" in habits:
        out = out.upper()
    return out.strip() or text


def written(codebook_id: str) -> list[dict]:
    path = OUT / f"{codebook_id}.written.txt"
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        codes, text = line.split("\t", 1)
        rows.append({"id": f"nw-{codebook_id}-{number:03d}", "text": text, "codes": codes.split(","),
                     "part": "written"})
    return rows


def main() -> None:
    for codebook_id in codebooks.available():
        book = codebooks.load(codebook_id)
        held_out = corpus.split(corpus.load(book), "test")
        rows = written(codebook_id)
        unknown = {c for r in rows for c in r["codes"] if c not in book.code_ids}
        if unknown:
            sys.exit(f"{codebook_id}: unknown codes {sorted(unknown)}")
        for e in held_out:
            rng = random.Random(f"{SEED}:{e.id}")
            rows.append({"id": f"pt-{e.id}", "text": perturb(e.text, rng), "codes": list(e.codes),
                         "part": "perturbed"})
        path = OUT / f"{codebook_id}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{codebook_id}: {sum(r['part'] == 'written' for r in rows)} written, {len(held_out)} perturbed → {path}")


if __name__ == "__main__":
    main()

"""Which options of a list a reply mentions: numbers, phrases (longest first), label words, fuzzy-corrected
words, intensifiers ("muy buena"), negations, and the last-resort match of the whole reply."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

from surveys.parsing.content import INTENSIFIER, NEGATION, NUMBER, WORD
from surveys.parsing.lexicon import NEUTRAL, NO_FUZZ, NOT_IN_ALL
from surveys.parsing.list_index import ListIndex, stored_value
from surveys.parsing.normalize import stem
from surveys.parsing.numbers import BIG, Num, num_token
from surveys.parsing.result import (
    AMBIGUOUS,
    HIGH_SCORE,
    MAX_CANDIDATES,
    OUT_OF_RANGE,
    UNKNOWN,
    WHOLE_CUTOFF,
    WORD_CUTOFF,
    Parsed,
    fail,
)


@dataclass(frozen=True, slots=True)
class _Item:
    stem: str
    score: float  # 100 unless fuzzy-corrected
    boundary: bool  # a separator ("," "y" "o") precedes it
    kind: int
    raw: str
    segment: int = 0  # how many separators precede it: words of one segment usually name one option
    at: int = 0  # its place in the reply: the first option named in a phrase is its head ("jefe oficina asesora")


class Matcher:
    """Finds which options of a list a reply mentions (numbers, phrases, label words)."""

    __slots__ = ("index", "mode", "context", "found", "ambiguous", "deferred", "negated", "out_of_range", "extra",
                 "stronger", "segments", "first_at")

    def __init__(self, index: ListIndex, mode: str, context: frozenset[str] = frozenset()) -> None:
        self.index, self.mode = index, mode  # mode: one | scale | multi | rating
        self.context = context  # stems of the question's own words: repeating them adds nothing
        self.found: dict[int, bool] = {}  # position → needs confirmation
        # Mentions that fit several options, with the option a list synonym prefers (if any).
        # (…, after an intensifier, the mention's segment and place)
        self.deferred: list[tuple[frozenset[int], int | None, bool, int, int]] = []
        self.first_at: dict[int, int] = {}  # position → where in the reply it was first named
        self.ambiguous = self.negated = self.out_of_range = self.extra = False
        self.stronger: dict[int, int] = {}  # "muy buena": position named → the next one up the scale
        self.segments: dict[int, set[int]] = {}  # segment → positions named in it

    def add(self, pos: int, confirm: bool) -> None:
        self.found[pos] = self.found.get(pos, True) and confirm

    def number(self, num: Num) -> None:
        """A number inside a worded reply, or one item of a numbers-only reply."""
        n = len(self.index.choices)
        if self.mode == "rating":
            if num.kind == "int":
                self._rating_value(num.values[0], False)
            elif num.kind == "frac":
                self._fraction(*num.values)
            elif num.kind == "dec":
                self.out_of_range = True
            elif num.kind == "range" and abs(num.values[1] - num.values[0]) == 1:
                for value in num.values:  # "3-4": one of two neighbours, asked
                    self._rating_value(value, True)
            else:
                self.ambiguous = True
            return
        if self.mode in ("one", "scale") and num.kind != "int":
            if num.kind == "dec":
                self.out_of_range = True
            else:
                self.ambiguous = True
            return
        if num.kind == "range":
            lo, hi = sorted(num.values)
            if hi - lo > n:
                self.out_of_range = True
                return
            values: Iterable[int] = range(lo, hi + 1)
        elif num.kind == "frac" and not num.loose:
            self.ambiguous = True  # "1 de 3" is not a list
            return
        else:
            values = num.values
        for k in values:
            if 1 <= k <= n:
                self.add(k - 1, num.kind == "range" and num.loose)
            else:
                self.out_of_range = True

    def _rating_value(self, value: int, confirm: bool) -> None:
        rating = self.index.rating
        if rating is None:  # not an integer list: fall back to positions
            if 1 <= value <= len(self.index.choices):
                self.add(value - 1, confirm)
            else:
                self.out_of_range = True
        elif value in rating:
            self.add(rating[value], confirm)
        else:
            self.out_of_range = True

    def _fraction(self, num: int, den: int) -> None:
        rating = self.index.rating
        top = max(rating) if rating else len(self.index.choices)
        if den == top:
            self._rating_value(num, False)
        elif 0 < den < BIG and (num * top) % den == 0:
            self._rating_value(num * top // den, True)  # "8/10" → 4, confirmed
        else:
            self.out_of_range = True

    def words(self, items: list[_Item]) -> None:
        """Phrases first (longest wins: "muy mala" before "mala"), then single label words."""
        index = self.index
        n = len(items)
        used = [False] * n
        i = 0
        while i < n:
            cands = index.phrases.get(items[i].stem)
            hit = None
            if cands:
                for stems, targets, guess in cands:
                    size = len(stems)
                    if size == 1 and len(index.words.get(stems[0], ())) > 1:
                        continue  # a word of several labels: decided by its neighbours in _run
                    if i + size <= n and all(items[i + j].stem == stems[j] for j in range(1, size)):
                        hit = (size, targets, guess)
                        break
            if hit is None:
                i += 1
                continue
            size, targets, guess = hit
            for j in range(i, i + size):
                used[j] = True
            confirm = guess or min(items[j].score for j in range(i, i + size)) < HIGH_SCORE
            modifier = self._modifier(items, used, i)
            if modifier == NEGATION:
                i += size
                continue
            if len(targets) == 1:
                self._mention(next(iter(targets)), confirm, modifier == INTENSIFIER, items[i].segment, items[i].at)
            else:
                self.deferred.append((targets, None, modifier == INTENSIFIER, items[i].segment, items[i].at))
            i += size
        # Leftovers, in runs split by separators and by matched phrases.
        run: list[_Item] = []
        for k, item in enumerate(items):
            if used[k] or item.boundary:
                self._run(run)
                run = []
            if not used[k]:
                run.append(item)
        self._run(run)

    def _intensified(self, pos: int, confirm: bool) -> None:
        """ "muy buena" when the list has no such label. On an ordered scale it may mean the label or
        the next one toward the nearer end (Buena or Excelente): both are offered. At an end ("muy
        excelente") it is that label; elsewhere (a middle, a plain list) the label, confirmed."""
        order = self._scale_order()
        if order is None or pos not in order:
            self.add(pos, True)
            return
        k, last = order.index(pos), len(order) - 1
        if k in (0, last):
            self.add(pos, confirm)
        elif 2 * k == last:
            self.add(pos, True)
        else:
            self.add(pos, True)
            self.stronger[pos] = order[k + 1] if 2 * k > last else order[k - 1]

    def _scale_order(self) -> list[int] | None:
        """Positions of an ordered scale from one end to the other (catch-alls such as No aplica left out)."""
        if self.mode == "rating" and self.index.rating:
            return [self.index.rating[v] for v in sorted(self.index.rating)]
        if self.mode == "scale":
            return [p for p, c in enumerate(self.index.choices) if c.name not in NOT_IN_ALL]
        return None

    def _modifier(self, items: list[_Item], used: list[bool], i: int) -> int | None:
        """What stands left of a mention at i: NEGATION ("no muy buena"), INTENSIFIER ("muy buena") or None.

        Consumed modifier words are marked used so they do not count as unexplained words.
        """
        j = i - 1
        while j >= 0 and not used[j] and items[j].kind == INTENSIFIER and not items[j + 1].boundary:
            j -= 1
        if j >= 0 and not used[j] and items[j].kind == NEGATION and not items[j + 1].boundary:
            for k in range(j, i):
                used[k] = True
            self.negated = True
            return NEGATION
        if j < i - 1:
            for k in range(j + 1, i):
                used[k] = True
            return INTENSIFIER
        return None

    def _run(self, run: list[_Item]) -> None:
        if not run:
            return
        mentions: list[tuple[_Item, frozenset[int], bool]] = []
        previous: _Item | None = None
        after_no = False  # a "no" comes right before this word, maybe across intensifiers ("no tan mal")
        for item in run:
            if item.kind == NUMBER:
                self.number(num_token(item.raw))
            elif item.kind == WORD:
                targets = self.index.words.get(item.stem)
                if after_no:
                    self.negated = True
                elif targets:
                    mentions.append((item, targets, previous is not None and previous.kind == INTENSIFIER))
                elif item.stem not in self.context and item.raw not in NEUTRAL:
                    self.extra = True
            elif item.kind == INTENSIFIER:
                self.extra = True  # a lone "muy": the reply says more than the option it names
            previous = item
            after_no = item.kind == NEGATION or (after_no and item.kind == INTENSIFIER)
        if not mentions:
            return
        # Words of one run usually name one option: "formulación de proyectos" → proyectos.
        weight = Counter(p for _, targets, _ in mentions for p in targets)
        for item, targets, intensified in mentions:
            best = max(weight[p] for p in targets)
            top = frozenset(p for p in targets if weight[p] == best)
            if len(top) == 1:
                self._mention(next(iter(top)), item.score < HIGH_SCORE, intensified, item.segment, item.at)
                continue
            # A list synonym that is also a word of other labels ("PDT", "formulación") breaks the tie.
            exact = self.index.exact.get((item.stem,))
            prefer = next(iter(exact[0])) if exact and len(exact[0]) == 1 and exact[0] <= top else None
            self.deferred.append((top, prefer, intensified, item.segment, item.at))

    def _mention(self, pos: int, confirm: bool, intensified: bool, segment: int = -1, at: int = -1) -> None:
        self.segments.setdefault(segment, set()).add(pos)
        if at >= 0:
            self.first_at[pos] = min(at, self.first_at.get(pos, at))
        if intensified:
            self._intensified(pos, confirm)
        else:
            self.add(pos, confirm)

    def whole(self, items: list[_Item]) -> None:
        """Last resort: the whole reply against whole phrases ("muymala", "planindicativo")."""
        joined = "".join(stem(item.raw) for item in items if item.kind != NUMBER)  # as typed, not corrected
        if len(joined) < 4:
            return
        m = process.extractOne(joined, self.index.whole, scorer=fuzz.ratio, score_cutoff=WHOLE_CUTOFF)
        if m is not None and (joined[0] == "n" or not m[0].startswith("no")):  # "aplica" is not "noaplica"
            targets, _ = self.index.whole_targets[m[2]]
            if len(targets) == 1:
                self.extra = False
                self.add(next(iter(targets)), True)

    def result(self) -> Parsed:
        for targets, prefer, intensified, segment, at in self.deferred:
            if targets & self.segments.get(segment, set()) or (prefer is None and targets & self.found.keys()):
                continue  # "seguimiento del PDT": the PDT is the one already named
            if prefer is not None:  # "mala o muy mala": Mala, the label that word is, beside Muy mala
                self._mention(prefer, False, intensified, segment, at)
            else:
                self.ambiguous = True
        if self.ambiguous:
            return fail(AMBIGUOUS)
        if self.out_of_range:
            return fail(OUT_OF_RANGE if not self.found or self.mode == "multi" else AMBIGUOUS)
        if not self.found:
            return fail(UNKNOWN)
        if self.mode == "one" and len(self.found) > 1:
            head = self._head()
            if head is not None:  # "jefe oficina asesora de planeación": a Jefe(a), confirmed
                return Parsed(True, self.value(head), True)
        if self.mode != "multi" and len(self.found) > 1:
            # "regular tirando a buena", "3 o 4": two (or three) stored values are possible: ask which
            return self._which(sorted(self.found)) if len(self.found) <= MAX_CANDIDATES else fail(AMBIGUOUS)
        confirm = any(self.found.values()) or self.extra
        choices = self.index.choices
        if self.mode == "multi":
            # "seguimiento al plan de desarrollo": two options from one phrase, no "y" or comma between them
            confirm = confirm or any(len(p) > 1 for seg, p in self.segments.items() if seg >= 0)
            return Parsed(True, [choices[p].name for p in sorted(self.found)], confirm)
        pos = next(iter(self.found))
        if pos in self.stronger:
            return self._which(sorted((pos, self.stronger[pos])))
        return Parsed(True, self.value(pos), confirm)

    def value(self, pos: int) -> Any:
        return stored_value(self.index, self.mode, pos)

    def _head(self) -> int | None:
        """The option a single phrase names first, when one phrase (no "y", "o" or comma inside) names
        several options of an unordered list: in Spanish the head noun comes first, the rest qualifies it
        ("profesional de la secretaría de planeación" is a profesional)."""
        segments = {seg for seg, named in self.segments.items() if named & self.found.keys()}
        if len(segments) != 1 or any(p not in self.first_at for p in self.found):
            return None
        return min(self.found, key=self.first_at.__getitem__)

    def _which(self, positions: Sequence[int]) -> Parsed:
        order = self._scale_order()
        if order is not None and all(p in order for p in positions):
            positions = sorted(positions, key=order.index)
        return Parsed(False, reason=AMBIGUOUS, candidates=tuple(self.value(p) for p in positions))


def match_items(index: ListIndex, content: list[tuple[str, int, bool, str]]) -> list[_Item]:
    items: list[_Item] = []
    segment = 0
    for word, kind, boundary, raw in content:
        segment += boundary
        score = 100.0
        if (
            kind == WORD
            and len(word) >= 4
            and word not in index.vocab_set
            and raw not in NO_FUZZ
            and index.vocab
        ):
            m = process.extractOne(word, index.vocab, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF)
            if m is not None:
                word, score = m[0], m[1]
        items.append(_Item(word, score, boundary, kind, raw, segment, len(items)))
    return items

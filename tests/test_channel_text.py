"""Message text per channel (bot/channels/text.py): Telegram HTML that Telegram accepts for any
respondent text (property tests with Hypothesis), and splitting at the channel's limit measured
after formatting, at a paragraph or sentence, never inside bold/italic, nothing lost, in order."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.channels.telegram import CALLBACK_BYTES, callback_data, parse_callback_data
from bot.channels.text import (
    TELEGRAM_LIMIT,
    TWILIO_LIMIT,
    spans,
    split,
    split_for,
    telegram_length,
    to_html,
    utf16_length,
    visible,
)

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

# Texts made of what respondents and the bot's own messages contain: markup characters, HTML
# specials, accents, emoji (some outside the BMP, some joined), newlines and sentence punctuation.
ALPHABET = st.sampled_from(list("ab *_<>&;#x'\"\n.?!ñé") + ["👍", "👩‍💻", "🇨🇴", "e\u0301", "  ", "\n\n", "&amp;"])
respondent_text = st.lists(ALPHABET, max_size=60).map("".join) | st.text(max_size=80)


class TelegramHTML(HTMLParser):
    """What Telegram's HTML parse mode accepts here: only <b> and <i>, properly nested; only the
    &lt; &gt; &amp; &quot; entities (and numeric ones); no stray < or >."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("b", "i") or attrs:
            self.errors.append(f"tag <{tag}>")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"crossed or unopened </{tag}>")

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.errors.append(f"raw bracket in {data!r}")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.errors.append(f"entity &{name};")
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))


def check_telegram_html(source: str) -> None:
    rendered = to_html(source)
    parser = TelegramHTML()
    parser.feed(rendered)
    parser.close()
    assert parser.errors == [] and parser.stack == [], (source, rendered, parser.errors)
    # What the person sees is their text, minus the markers that became formatting, nothing else.
    assert "".join(parser.text) == visible(source)
    assert re.sub(r"&(?!(lt|gt|amp|quot);)", "", rendered) == rendered  # every & starts an entity


@settings(max_examples=400, deadline=None)
@given(respondent_text)
@example("*a _b* c_")  # crossing spans: <b>a <i>b</b> c</i> is refused ("can't parse entities")
@example("_a *b_ c*")
@example("*_x_*")
@example("<script>alert('x')</script> & *negrita* _cursiva_")
@example("snake_case_name y 5*3*2")
def test_any_respondent_text_becomes_html_telegram_accepts(text: str) -> None:
    check_telegram_html(text)


def test_crossed_markup_is_left_as_text_not_crossed_tags() -> None:
    assert to_html("*a _b* c_") == "<b>a _b</b> c_"
    assert to_html("*Génova* <script> & _nota_") == "<b>Génova</b> &lt;script&gt; &amp; <i>nota</i>"
    assert to_html("*_dos_*") == "<b><i>dos</i></b>"


@settings(max_examples=200, deadline=None)
@given(st.lists(respondent_text, min_size=1, max_size=40).map("\n".join), st.integers(min_value=20, max_value=400))
def test_split_pieces_fit_keep_everything_in_order_and_never_cut_markup(text: str, limit: int) -> None:
    pieces = split(text, limit, telegram_length)
    assert all(telegram_length(p) <= limit for p in pieces), [telegram_length(p) for p in pieces]
    assert re.sub(r"\s", "", "".join(pieces)) == re.sub(r"\s", "", text)  # nothing lost, nothing reordered
    # Each piece is rendered on its own: valid HTML, and no span of the whole was cut in two.
    for piece in pieces:
        check_telegram_html(piece)
    kept = sum(len(spans(p)) for p in pieces)
    assert kept >= len([s for s in spans(text) if s.end - s.start <= limit // 3])


def test_split_prefers_a_paragraph_then_a_sentence_then_a_space() -> None:
    first, second = "Primer párrafo. " * 10, "Segundo párrafo. " * 10
    assert split(f"{first.strip()}\n\n{second.strip()}", 200) == [first.strip(), second.strip()]
    sentences = "Esta es una frase completa. " * 12
    pieces = split(sentences, 100)
    assert all(p.endswith(".") for p in pieces[:-1])  # cut after a sentence, not mid-sentence
    assert split("palabra " * 40, 50)[0] == ("palabra " * 6).strip()


def test_a_bold_span_is_never_split_across_messages() -> None:
    text = "x " * 40 + "*" + "negrita larga " * 3 + "*" + " fin"
    pieces = split(text, 90)
    assert len(pieces) > 1 and any(p.startswith("*negrita") or "*negrita" in p for p in pieces)
    assert all(p.count("*") in (0, 2) for p in pieces)


def test_telegram_counts_visible_utf16_and_twilio_counts_the_body() -> None:
    assert telegram_length("*hola* &amp; <b>") == len("hola &amp; <b>")  # markers do not count, text does
    assert utf16_length("👍") == 2 and telegram_length("👍") == 2
    # A reply of 5,474 characters (with emoji and HTML specials) → pieces Telegram takes.
    long = ("Línea con <datos> & emoji 👍 y *negrita*. " * 130).strip()
    assert all(telegram_length(p) <= TELEGRAM_LIMIT for p in split_for("telegram", long))
    assert all(utf16_length(p) <= TWILIO_LIMIT for p in split_for("whatsapp", long))
    assert split_for("simulator", long) == [long]


def test_a_hard_cut_never_splits_an_emoji_or_an_accent() -> None:
    for glyph in ("👩‍💻", "🇨🇴", "e\u0301", "👍🏽"):
        text = glyph * 200
        for piece in split(text, 37):
            assert not piece.startswith(("\u200d", "\u0301", "\U0001f3fd")) and not piece.endswith("\u200d")
        assert "".join(split(text, 37)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.sampled_from(["", "abcd1234"]))
def test_callback_data_fits_64_bytes_and_keeps_its_prompt(reply: str, prompt: str) -> None:
    data = callback_data(prompt, reply)
    assert len(data.encode()) <= CALLBACK_BYTES
    token, kept = parse_callback_data(data)
    assert token == prompt and reply.startswith(kept)

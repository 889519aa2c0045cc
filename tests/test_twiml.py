"""The TwiML answered to a Twilio webhook (bot/channels/twilio.py ``twiml``) is written without
ElementTree, for speed: it must be the very document twilio's own MessagingResponse writes, for
every text a reply can hold — and one Twilio parses back to the same messages."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.twiml.messaging_response import MessagingResponse

from bot.channels.text import split_for
from bot.channels.twilio import twiml
from surveys.messages import Outbound


def library_twiml(texts: list[str]) -> str:
    response = MessagingResponse()
    for text in texts:
        for piece in split_for("whatsapp", text):
            response.message(piece)
    return str(response)


TEXTS = [
    [],
    ["¡Hola! 👋 Soy el asistente de *Monitoreo 360*."],
    ["Responda Sí o No", "1️⃣ Agua & saneamiento\n2️⃣ Vías <terciarias>\n3️⃣ \"Otro\" 'tema'"],
    ["a&amp;b", "<Message>no</Message>", "]]> <![CDATA[ x ]]>"],
    ["\t tabs\r\nand CRLF \u00a0nbsp\u200bzero-width"],
    ["ñandú ÁÉÍÓÚ Ü ¿qué? ¡sí!"],
    ["x" * 5000],  # split into several messages
    ["párrafo uno.\n\n" * 300],
    [""],
]


@pytest.mark.parametrize("texts", TEXTS)
def test_the_same_document_as_twilios_library(texts: list[str]) -> None:
    assert twiml([Outbound(t) for t in texts]) == library_twiml(texts)


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300), max_size=4))
def test_any_text_gives_the_same_document(texts: list[str]) -> None:
    assert twiml([Outbound(t) for t in texts]) == library_twiml(texts)


def test_parsed_back_to_the_messages() -> None:
    texts = ["1 < 2 & 3 > 2", "«comillas» \"dobles\" 'simples'", "emoji 🎉"]
    root = ET.fromstring(twiml([Outbound(t) for t in texts]))
    assert root.tag == "Response"
    assert [m.text for m in root.iter("Message")] == texts

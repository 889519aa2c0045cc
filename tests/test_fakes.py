"""The loopback fakes in tests/support/fakes.py, driven by the real client libraries.

twilio's ``Client`` (``client.api.base_url`` → the fake) and python-telegram-bot's ``Bot``
(``base_url=`` the fake) must see the fakes exactly as they see the real services: the same
objects on success and the same exceptions on scripted failures. Every test runs under
``block_internet()``, so a request that escaped to the internet would fail the test.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import requests
import telegram
from telegram.error import Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from tests.support.fakes import FakeTelegram, FakeTwilio, block_internet

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

TO, FROM = "whatsapp:+573001112233", "whatsapp:+14155238886"


@pytest.fixture(autouse=True)
def offline() -> Iterator[list[str]]:
    """No test here may reach a non-loopback host (tests that probe the guard clear the list)."""
    with block_internet() as attempts:
        yield attempts
    assert attempts == [], f"real network used: {attempts}"


@pytest.fixture
def tw(twilio_fake: FakeTwilio) -> FakeTwilio:
    return twilio_fake


@pytest.fixture
def tg(telegram_fake: FakeTelegram) -> FakeTelegram:
    return telegram_fake


def twilio_client(fake: FakeTwilio, token: str | None = None, **kwargs: Any) -> Client:
    client = Client(fake.account_sid, token or fake.auth_token, **kwargs)
    client.api.base_url = fake.base_url
    return client


def run_bot(fake: FakeTelegram, body, token: str | None = None) -> Any:
    """``await body(bot)`` with an initialized PTB Bot pointed at the fake."""
    async def main() -> Any:
        async with telegram.Bot(token or fake.token, base_url=fake.base_url) as bot:
            return await body(bot)
    return asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# Twilio


def test_twilio_create_returns_a_message_resource_and_is_recorded(tw: FakeTwilio) -> None:
    client = twilio_client(tw)
    first = client.messages.create(to=TO, from_=FROM, body="¿Hola? 🙂", status_callback="https://m360.test/cb")
    second = client.messages.create(to=TO, from_=FROM, body="dos")
    assert re.fullmatch(r"SM[0-9a-f]{32}", first.sid) and first.sid != second.sid
    assert (first.status, first.direction, first.num_segments, first.api_version) == (
        "queued", "outbound-api", "1", "2010-04-01")
    assert (first.to, first.from_, first.body, first.error_code, first.price) == (TO, FROM, "¿Hola? 🙂", None, None)
    assert first.date_created is not None and first.account_sid == tw.account_sid
    sent = tw.sent
    assert [m["sid"] for m in sent] == [first.sid, second.sid]
    assert sent[0]["To"] == TO and sent[0]["From"] == FROM and sent[0]["Body"] == "¿Hola? 🙂"
    assert sent[0]["StatusCallback"] == "https://m360.test/cb" and sent[0]["status_returned"] == 201
    assert sent[0]["at"] <= sent[1]["at"]


def test_twilio_raw_response_has_twilio_message_shape(tw: FakeTwilio) -> None:
    url = f"{tw.base_url}/2010-04-01/Accounts/{tw.account_sid}/Messages.json"
    response = requests.post(url, data={"To": TO, "From": FROM, "Body": "hola"}, auth=(tw.account_sid, tw.auth_token))
    assert response.status_code == 201
    body = response.json()
    for key in ("sid", "account_sid", "to", "from", "body", "status", "date_created", "uri", "error_code",
                "error_message", "num_segments", "direction", "api_version", "price", "messaging_service_sid",
                "subresource_uris"):
        assert key in body
    assert body["uri"] == f"/2010-04-01/Accounts/{tw.account_sid}/Messages/{body['sid']}.json"


def test_twilio_content_template_and_messaging_service(tw: FakeTwilio) -> None:
    client = twilio_client(tw)
    message = client.messages.create(to=TO, from_=FROM, content_sid="HX" + "1" * 32, content_variables='{"1":"x"}')
    via_service = client.messages.create(to=TO, messaging_service_sid="MG" + "2" * 32, body="hola")
    assert message.sid and via_service.messaging_service_sid == "MG" + "2" * 32
    assert tw.sent[0]["ContentSid"] == "HX" + "1" * 32 and tw.sent[0]["ContentVariables"] == '{"1":"x"}'
    assert "Body" not in tw.sent[0] and "From" not in tw.sent[1]


@pytest.mark.parametrize(("script", "status", "code", "retry_after"), [
    ({"status": 429, "code": 20429, "message": "Too Many Requests", "retry_after": 1}, 429, 20429, "1"),
    ({"status": 500}, 500, 20500, None),
    ({"status": 400, "code": 21610, "message": "Attempt to send to unsubscribed recipient"}, 400, 21610, None),
])
def test_twilio_scripted_failures_raise_twilio_rest_exception(
        tw: FakeTwilio, script: dict[str, Any], status: int, code: int, retry_after: str | None) -> None:
    client = twilio_client(tw)
    tw.fail_next(script.pop("status"), **script)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, from_=FROM, body="hola")
    assert (caught.value.status, caught.value.code, caught.value.method) == (status, code, "POST")
    assert caught.value.msg.startswith("Unable to create record: ")
    # the exception carries no headers; the client's last response (a private attribute) does
    assert client.http_client._test_only_last_response.headers.get("Retry-After") == retry_after
    assert client.messages.create(to=TO, from_=FROM, body="again").sid  # the script was used up
    assert [m["status_returned"] for m in tw.messages] == [status, 201]
    assert "sid" not in tw.messages[0] and len(tw.sent) == 1


def test_twilio_failures_queue_in_order_and_repeat(tw: FakeTwilio) -> None:
    client = twilio_client(tw)
    tw.fail_next(429, retry_after=2, times=2)
    tw.fail_next(503, message="Service Unavailable")
    statuses = []
    for _ in range(4):
        try:
            client.messages.create(to=TO, from_=FROM, body="x")
            statuses.append(201)
        except TwilioRestException as exc:
            statuses.append(exc.status)
    assert statuses == [429, 429, 503, 201]


def test_retry_after_via_a_twilio_http_client_subclass(tw: FakeTwilio) -> None:
    class HeaderKeeping(TwilioHttpClient):
        """Keeps each thread's last response, so a sender can read Retry-After after an exception."""

        local = threading.local()

        def request(self, *args: Any, **kwargs: Any):  # type: ignore[override]
            self.local.response = super().request(*args, **kwargs)
            return self.local.response

    http = HeaderKeeping()
    client = twilio_client(tw, http_client=http)
    tw.fail_next(429, code=20429, retry_after=3)
    with pytest.raises(TwilioRestException):
        client.messages.create(to=TO, from_=FROM, body="x")
    assert http.local.response.status_code == 429 and http.local.response.headers["Retry-After"] == "3"


def test_twilio_rejects_wrong_credentials_and_validates(tw: FakeTwilio) -> None:
    with pytest.raises(TwilioRestException) as caught:
        twilio_client(tw, token="wrong").messages.create(to=TO, from_=FROM, body="x")
    assert (caught.value.status, caught.value.code) == (401, 20003)
    client = twilio_client(tw)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=TO, from_=FROM)  # no Body, MediaUrl nor ContentSid
    assert (caught.value.status, caught.value.code) == (400, 21602)
    assert [m["status_returned"] for m in tw.messages] == [401, 400] and tw.sent == []


def test_twilio_fetch_list_and_status_updates(tw: FakeTwilio) -> None:
    client = twilio_client(tw)
    sids = [client.messages.create(to=to, from_=FROM, body=str(i)).sid
            for i, to in enumerate([TO, "whatsapp:+573009998877", TO, TO])]
    assert client.messages(sids[0]).fetch().body == "0"
    tw.set_status(sids[0], "delivered")
    assert client.messages(sids[0]).fetch().status == "delivered"
    listed = client.messages.list(to=TO, page_size=2)  # newest first, across two pages
    assert [m.sid for m in listed] == [sids[3], sids[2], sids[0]]
    raw = requests.get(f"{tw.base_url}/2010-04-01/Accounts/{tw.account_sid}/Messages.json", params={"To": TO},
                       auth=(tw.account_sid, tw.auth_token)).json()
    assert (len(raw["messages"]), raw["page"], raw["page_size"], raw["next_page_uri"]) == (3, 0, 50, None)
    with pytest.raises(TwilioRestException) as caught:
        client.messages("SM" + "f" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_twilio_wait_for(tw: FakeTwilio) -> None:
    client = twilio_client(tw)
    sender = threading.Timer(0.1, lambda: client.messages.create(to=TO, from_=FROM, body="later"))
    sender.start()
    assert [m["Body"] for m in tw.wait_for(1, timeout=3)] == ["later"]
    sender.join()
    with pytest.raises(AssertionError, match="2 Twilio message"):
        tw.wait_for(2, timeout=0.05)


# ---------------------------------------------------------------------------------------------
# Telegram


def test_telegram_send_message_and_recording(tg: FakeTelegram) -> None:
    keyboard = telegram.InlineKeyboardMarkup([[telegram.InlineKeyboardButton("Sí", callback_data="si")]])

    async def body(bot: telegram.Bot) -> list[telegram.Message]:
        assert bot.id == 123456 and bot.username == "fake_m360_bot"  # getMe ran in initialize()
        first = await bot.send_message(chat_id=42, text="<b>¿Hola?</b>", parse_mode="HTML", reply_markup=keyboard)
        return [first, await bot.send_message(chat_id=42, text="dos")]

    first, second = run_bot(tg, body)
    assert (first.message_id, second.message_id) == (1, 2)
    assert (first.chat.id, first.chat.type, first.text) == (42, "private", "<b>¿Hola?</b>")
    assert first.reply_markup == keyboard
    assert tg.sent[0] == {"chat_id": 42, "text": "<b>¿Hola?</b>", "parse_mode": "HTML",
                          "reply_markup": {"inline_keyboard": [[{"text": "Sí", "callback_data": "si"}]]}}
    assert [call.method for call in tg.calls] == ["getMe", "sendMessage", "sendMessage"]
    # PTB posts form-encoded fields (non-strings JSON-encoded), never a JSON body
    assert {r["content_type"] for r in tg.requests if r["method"] == "sendMessage"} == {
        "application/x-www-form-urlencoded"}


def test_telegram_scripted_failures_map_to_ptb_exceptions(tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    tg.fail_next(429, "Too Many Requests: retry after 1", retry_after=1)
    tg.fail_next(403, "Forbidden: bot was blocked by the user")
    tg.fail_next(500, "Internal Server Error")
    caught: list[TelegramError] = []

    async def body(bot: telegram.Bot) -> None:
        for _ in range(3):
            with pytest.raises(TelegramError) as exc:
                await bot.send_message(chat_id=42, text="x")
            caught.append(exc.value)
        await bot.send_message(chat_id=42, text="ok")

    with pytest.warns(PTBDeprecationWarning):  # RetryAfter reads its own retry_after when built
        run_bot(tg, body)
    retry, forbidden, server = caught
    assert type(retry) is RetryAfter and not isinstance(retry, NetworkError)
    with pytest.warns(PTBDeprecationWarning):  # PTB 22: an int for now, a timedelta when opted in
        assert retry.retry_after == 1
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    assert retry.retry_after == timedelta(seconds=1)
    assert type(forbidden) is Forbidden and forbidden.message == "Forbidden: bot was blocked by the user"
    assert type(server) is NetworkError and server.message == "Internal Server Error"
    assert [p["text"] for p in tg.sent] == ["ok"]
    assert len([c for c in tg.calls if c.method == "sendMessage"]) == 4


def test_telegram_failure_targets_one_method(tg: FakeTelegram) -> None:
    tg.fail_next(500, method="answerCallbackQuery", times=2)

    async def body(bot: telegram.Bot) -> None:
        await bot.send_message(chat_id=1, text="unaffected")
        for _ in range(2):
            with pytest.raises(NetworkError):
                await bot.answer_callback_query("cb-1")
        assert await bot.answer_callback_query("cb-1") is True

    run_bot(tg, body)
    assert tg.wait_for(1, method="answerCallbackQuery", timeout=1) == [{"callback_query_id": "cb-1"}]


def test_telegram_wrong_token_is_unauthorized(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):  # PTB rewords getMe's 401
        run_bot(tg, lambda bot: bot.get_me(), token="999:wrong")
    assert tg.calls == [] and tg.requests[0]["status_returned"] == 401


def test_telegram_get_updates_offset_and_limit(tg: FakeTelegram) -> None:
    for text in ("uno", "dos", "tres"):
        tg.push_update({"message": {"message_id": 1, "date": 0, "chat": {"id": 42, "type": "private"}, "text": text}})

    async def body(bot: telegram.Bot) -> list[list[int]]:
        first = await bot.get_updates(limit=2)
        second = await bot.get_updates(offset=first[-1].update_id + 1)
        again = await bot.get_updates()  # 1 and 2 were confirmed by the offset: gone
        return [[u.update_id for u in batch] for batch in (first, second, again)] + [[first[0].message.text]]

    assert run_bot(tg, body) == [[1, 2], [3], [3], ["uno"]]


def test_telegram_get_updates_long_polls(tg: FakeTelegram) -> None:
    async def body(bot: telegram.Bot) -> tuple[float, float, list[int]]:
        start = time.monotonic()
        assert await bot.get_updates(timeout=0.2) == ()
        empty = time.monotonic() - start
        threading.Timer(0.1, tg.push_update, [{"update_id": 7, "message": {
            "message_id": 1, "date": 0, "chat": {"id": 42, "type": "private"}, "text": "hola"}}]).start()
        start = time.monotonic()
        updates = await bot.get_updates(timeout=3)
        return empty, time.monotonic() - start, [u.update_id for u in updates]

    empty, woke, ids = run_bot(tg, body)
    assert 0.18 <= empty < 1.5 and 0.08 <= woke < 1.5 and ids == [7]
    assert tg.calls[-1].params["timeout"] == 3


def test_telegram_webhook_methods(tg: FakeTelegram) -> None:
    async def body(bot: telegram.Bot) -> str:
        assert await bot.set_webhook("https://m360.test/telegram", secret_token="s3cret") is True
        with pytest.raises(Conflict):
            await bot.get_updates()
        url = (await bot.get_webhook_info()).url
        assert await bot.delete_webhook(drop_pending_updates=True) is True
        assert await bot.get_updates() == ()
        return url

    assert run_bot(tg, body) == "https://m360.test/telegram"
    assert tg.calls[1].params == {"url": "https://m360.test/telegram", "secret_token": "s3cret"}


def test_telegram_multipart_json_and_custom_handlers(tg: FakeTelegram) -> None:
    tg.set_handler("sendDocument", lambda params: {
        "message_id": 99, "date": 0, "chat": {"id": params["chat_id"], "type": "private"}})

    async def body(bot: telegram.Bot) -> telegram.Message:
        return await bot.send_document(chat_id=42, document=b"a,b\n1,2\n", filename="r.csv", caption="informe")

    assert run_bot(tg, body).message_id == 99
    call = tg.calls[-1]
    assert call.method == "sendDocument" and call.params["caption"] == "informe" and call.params["chat_id"] == 42
    assert call.params["document"]["filename"] == "r.csv" and call.params["document"]["data"] == b"a,b\n1,2\n"
    # a plain JSON body (what a hand-rolled client would send) is understood too
    response = httpx.post(f"{tg.base_url}{tg.token}/sendMessage", json={"chat_id": 7, "text": "json"})
    assert response.json()["result"]["chat"]["id"] == 7 and tg.sent[-1] == {"chat_id": 7, "text": "json"}


# ---------------------------------------------------------------------------------------------
# No real network


def test_block_internet_refuses_the_real_services(offline: list[str]) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        Client("AC" + "0" * 32, "token").messages.create(to=TO, from_=FROM, body="x")  # api.twilio.com
    with pytest.raises(NetworkError):
        asyncio.run(telegram.Bot("123:abc").get_me())  # api.telegram.org (no initialize needed to fail)
    assert offline == ["api.twilio.com", "api.telegram.org"]
    offline.clear()


def test_fakes_listen_on_loopback_only(tw: FakeTwilio, tg: FakeTelegram) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", tw.base_url)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/bot", tg.base_url) and tw.port != tg.port

"""A phone on WhatsApp talking to a served ``m360`` over real HTTP, as Twilio delivers: signed
webhooks, each delivery retried with the same MessageSid until acknowledged."""

from __future__ import annotations

import http.client
import os
import time
import urllib.parse
from pathlib import Path

from twilio.request_validator import RequestValidator

TOKEN = "fault-test-twilio-token"
SCRIPT = ["Hola", "si", "genova quindio", "sí", "Ana Pérez", "1", "1", "4", "Muy buena, el asesor siempre responde",
          "5", "cuatro", "3", "4/5", "2", "5", "excelente", "buena", "no aplica", "si", "porque articulamos el plan",
          "parcialmente", "la conexion es mala", "nop", "rotan mucho al personal", "2, 5 y 12", "catastro",
          "si", "mas visitas presenciales"]


CLOSING = "Muchas gracias"
MODELS = Path(os.environ.get("M360_MODELS_DIR", "var/models")).resolve()  # `make test` builds them


class Phone:
    """A WhatsApp number whose messages Twilio delivers, retrying a delivery (same MessageSid) until
    it is acknowledged with 200, as Twilio's retries do."""

    def __init__(self, port: int, number: str, pause: float = 0.0):
        self.port, self.number, self.pause = port, number, pause  # pause: the respondent's time between messages
        self.url = f"http://127.0.0.1:{port}/webhooks/twilio"
        self.acknowledged: list[str] = []
        self.retries = 0
        self.last = ""

    def deliver(self, text_: str, sid: str, deadline: float) -> str:
        form = {"From": f"whatsapp:{self.number}", "To": "whatsapp:+14155238886", "Body": text_, "MessageSid": sid,
                "NumMedia": "0", "AccountSid": "AC" + "0" * 32}
        body = urllib.parse.urlencode(form)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(self.url, form)}
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            try:
                conn.request("POST", "/webhooks/twilio", body, headers)
                response = conn.getresponse()
                reply = response.read().decode()
                if response.status == 200:
                    self.acknowledged.append(sid)
                    return reply
            except (OSError, http.client.HTTPException):
                pass  # refused, reset or cut off mid-reply while the server is down: deliver again
            finally:
                conn.close()
            self.retries += 1
            time.sleep(0.1)
        raise AssertionError(f"{self.number}: {sid} never acknowledged")

    def interview(self, deadline: float) -> None:
        for i, message in enumerate(SCRIPT):
            self.last = self.deliver(message, f"SM{self.number[-6:]}{i:04d}" + "0" * 22, deadline)  # Twilio's format
            time.sleep(self.pause)

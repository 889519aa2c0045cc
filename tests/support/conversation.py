"""The conversation as a contact lives it: a chat driver of ChatService, the scripted registration,
one complete interview with what it stores, and the help-request intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.service import ChatService
from surveys.messages import Inbound, Outbound
from surveys.models import Answer


class Chat:
    """Drives ChatService as one contact would; keeps a clock so tests can move time."""

    def __init__(self, service: ChatService, address: str = "+573001112233", channel: str = "whatsapp"):
        self.service, self.address, self.channel = service, address, channel
        self.now = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
        self.last: list[Outbound] = []

    def say(self, text: str, external_id: str | None = None) -> str:
        self.now += timedelta(seconds=30)
        inbound = Inbound(self.channel, self.address, text, external_id=external_id, received_at=self.now)
        self.last = self.service.handle(inbound)
        return "\n".join(r.text for r in self.last)

    def wait(self, **delta: float) -> None:
        self.now += timedelta(**delta)


# One complete interview, answered the way a hurried official would (no accents, words, emoji).
INTERVIEW = [
    ("4", "En pocas palabras"),  # puntaje_general
    ("Muy buena, el asesor siempre responde", "Oportunidad"),  # valoracion_general → aspect ratings next
    ("5", "Materiales"),
    ("cuatro", "Asistencia virtual"),
    ("3", "Profundidad"),
    ("4/5", "Kit de Planeación"),
    ("2", "Asesor"),
    ("5️⃣", "Plan Indicativo"),
    ("excelente", "Armonización"),
    ("buena", "seguimiento al PDT"),
    ("no aplica", "articulación de instrumentos"),
    ("si", "¿Por qué?"),
    ("porque articulamos el plan con el presupuesto", "necesidades y debilidades"),
    ("parcialmente", "¿Por qué?"),
    ("la conexion es mala y todo es virtual", "fortalecimiento de las capacidades"),
    ("nop", "¿Por qué?"),
    ("rotan mucho al personal", "En qué temas"),
    ("2, 5 y 12", "Anotado"),
    ("catastro multiproposito", "asesor del DNP"),
    ("si", "sugerencia"),
    ("mas visitas presenciales", "Muchas gracias"),
]


EXPECTED = {
    "consentimiento": "si", "cargo": "secretario", "puntaje_general": 4,
    "valoracion_general": "Muy buena, el asesor siempre responde",
    "aspecto_oportunidad": 5, "aspecto_materiales": 4, "aspecto_virtualidad": 3, "aspecto_profundidad": 4,
    "aspecto_kpt": 2, "aspecto_asesor": 5, "tema_plan_indicativo": "excelente", "tema_armonizacion": "buena",
    "tema_seguimiento": "no_aplica", "contribuye_articulacion": "si",
    "porque_articulacion": "porque articulamos el plan con el presupuesto", "contribuye_necesidades": "parcialmente",
    "porque_necesidades": "la conexion es mala y todo es virtual", "contribuye_capacidades": "no",
    "porque_capacidades": "rotan mucho al personal",
    "demanda_temas": ["plan_indicativo", "seguimiento_pdt", "otro"], "demanda_otro": "catastro multiproposito",
    "contacto_asesor": "si", "sugerencias": "mas visitas presenciales",
}


def register(chat: Chat, entity: str = "genova quindio", display: str = "Génova (Quindío)") -> None:
    assert "Ley 1581" in chat.say("Hola")
    assert "alcaldía o gobernación" in chat.say("si")
    assert display in chat.say(entity)
    assert "nombre" in chat.say("sí")
    assert "cargo" in chat.say("Ana Pérez")
    reply = chat.say("1")
    assert f"Quedó registrado(a) por *{display}*" in reply
    assert "1. Responder el Monitoreo 360" in reply


def start_interview(chat: Chat) -> None:
    reply = chat.say("1")
    assert "20 preguntas" in reply and "De 1 a 5" in reply


def answers(sessions: sessionmaker[Session], interview_id: int | None = None) -> dict[str, object]:
    with sessions() as s:
        query = select(Answer.question, Answer.value)
        if interview_id is not None:
            query = query.where(Answer.interview_id == interview_id)
        return dict(s.execute(query).all())


def request_help(chat: Chat) -> str:
    """The whole intake from the menu; returns the confirmation message."""
    assert "qué necesita" in chat.say("2")
    reply = chat.say("necesitamos ayuda para armonizar el presupuesto con el plan indicativo")
    assert "Entiendo que su solicitud es sobre" in reply and "Plan indicativo" in reply
    assert "tipo de apoyo" in chat.say("si")
    assert "tipo de petición" in chat.say("asistencia tecnica")
    assert "fase del ciclo" in chat.say("peticion general")
    assert "una sola vez o de forma continua" in chat.say("2")
    assert "urgente" in chat.say("continua")
    assert "fecha límite" in chat.say("si")
    assert "¿Para el *martes 15 de diciembre*?" in chat.say("antes del 15 de diciembre")  # read back
    summary = chat.say("sí")  # nothing is sent before the person reads it back
    assert "Revisemos su solicitud" in summary and "Fecha límite: martes 15 de diciembre" in summary
    assert "Tipo de apoyo: Asistencia técnica" in summary and "armonizar el presupuesto" in summary
    return chat.say("sí")

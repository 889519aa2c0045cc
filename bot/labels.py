"""The analyst's vocabulary: every code the panel, the reports and the CLI show, as its Spanish label.

Stored values stay stable codes (``en_gestion``, ``ticket_nuevo``, ``capacitacion``); people read
labels. Choice codes come from the questionnaires' own labels (one source of truth with the chat);
the rest are listed here. Input goes the other way: ``status_code("En gestión")`` → ``en_gestion``,
so people may type what they read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from types import MappingProxyType
from typing import Final

from surveys.parsing import normalize
from surveys.schema import builtin
from surveys.statuses import InterviewStatus

TICKET_STATUS: Final[Mapping[str, str]] = MappingProxyType({
    "nueva": "Nueva", "asignada": "Asignada", "en_gestion": "En gestión", "respondida": "Respondida",
    "cerrada": "Cerrada", "remitida": "Remitida",
})
ALERT_RULE: Final[Mapping[str, str]] = MappingProxyType({
    "ticket_nuevo": "Solicitud nueva", "ticket_urgente": "Solicitud urgente",
    "contacto_asesor": "Pidió que un asesor lo contacte", "insatisfaccion": "Entidad insatisfecha",
    "contribucion_no": "«No» en contribución", "tema_mala": "Tema calificado mala o muy mala",
    "pico_demanda": "Pico de demanda de un tema", "ticket_vencido": "Solicitud vencida",
    "envio_fallido": "Aviso al solicitante no entregado", "envio_revisar": "Envío por confirmar",
    "entidad_por_validar": "Entidad por validar", "ola_no_creada": "Ola programada no creada",
})
ALERT_STATUS: Final[Mapping[str, str]] = MappingProxyType({"abierta": "Abierta", "reconocida": "Reconocida"})
SEVERITY: Final[Mapping[str, str]] = MappingProxyType({"alta": "Alta", "media": "Media", "baja": "Baja"})
ROLE: Final[Mapping[str, str]] = MappingProxyType({"analyst": "analista", "der": "DER", "admin": "administrador",
                                                  "enlace": "enlace territorial", "articulador": "articulador(a)"})
CHANNEL: Final[Mapping[str, str]] = MappingProxyType({
    "whatsapp": "WhatsApp", "sms": "SMS", "telegram": "Telegram", "simulator": "simulador", "cli": "terminal",
    "api": "API", "telefono": "teléfono", "correo": "correo electrónico", "presencial": "presencial",
    "oficio": "oficio o carta",
})
SOURCE: Final[Mapping[str, str]] = MappingProxyType({
    "chat": "chat", "interview": "entrevista del Monitoreo 360", "api": "API", "panel": "panel",
})
INTERVIEW_STATUS: Final[Mapping[str, str]] = MappingProxyType({
    InterviewStatus.EN_CURSO: "en curso", InterviewStatus.PAUSADA: "pausada", InterviewStatus.COMPLETA: "completa",
    InterviewStatus.RECHAZADA: "rechazada", InterviewStatus.EXPIRADA: "expirada",
})
WAVE_STATUS: Final[Mapping[str, str]] = MappingProxyType({
    "creada": "creada", "programada": "programada", "en_curso": "en curso", "cerrada": "cerrada",
})
DELIVERY_STATUS: Final[Mapping[str, str]] = MappingProxyType({
    "pending": "en cola", "sending": "enviándose", "sent": "enviado", "delivered": "entregado", "read": "leído",
    "failed": "no se pudo enviar", "undelivered": "enviado, no entregado", "review": "por confirmar",
    "skipped": "omitido (lo reemplazó la plantilla)",
})
_FIXED: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType({
    "status": TICKET_STATUS, "rule": ALERT_RULE, "alert_status": ALERT_STATUS, "severity": SEVERITY, "role": ROLE,
    "channel": CHANNEL, "source": SOURCE, "interview_status": INTERVIEW_STATUS, "wave_status": WAVE_STATUS,
    "delivery_status": DELIVERY_STATUS,
})
# Choice lists of the questionnaires whose codes reach analysts' screens.
_CHOICES: Final = {"support_type": ("solicitud", "tipo_apoyo"), "phase": ("solicitud", "fase"),
                   "request_type": ("solicitud", "tipo_peticion"), "continuity": ("solicitud", "continuidad"),
                   "cargo": ("monitoreo360", "cargo"), "theme_rating": ("monitoreo360", "calificacion_tema")}


@cache
def _choice_labels(kind: str) -> Mapping[str, str]:
    questionnaire, list_name = _CHOICES[kind]
    return MappingProxyType({c.name: c.label for c in builtin(questionnaire).choice_lists[list_name]})


def kinds() -> tuple[str, ...]:
    return (*_FIXED, *_CHOICES)


def label(kind: str, code: str | None) -> str:
    """The Spanish label of ``code``; «—» for none; an unknown code readable ("otro_valor" → "otro valor")."""
    if code is None or code == "":
        return "—"
    table = _FIXED.get(kind) or (_choice_labels(kind) if kind in _CHOICES else {})
    return table.get(code) or str(code).replace("_", " ")


def labels(kind: str, codes: Iterable[str]) -> str:
    return ", ".join(label(kind, c) for c in codes) or "—"


def status_code(text: str) -> str | None:
    """A ticket status as typed ("en gestión", "En Gestion", "en_gestion") → its code; None if unknown."""
    wanted = normalize(text.replace("_", " "))
    return next((code for code, name in TICKET_STATUS.items()
                 if wanted in (normalize(name), normalize(code.replace("_", " ")))), None)

"""The statuses of an interview, one vocabulary for the engine, the chat service, the waves, the
reports and the importer (stored as these strings; Spanish labels for people are in
``bot/labels.py``)."""

from __future__ import annotations

from enum import StrEnum


class InterviewStatus(StrEnum):
    EN_CURSO = "en_curso"  # being answered
    PAUSADA = "pausada"  # PAUSA, or left for later: offered again from the menu
    COMPLETA = "completa"
    RECHAZADA = "rechazada"  # the person declined
    EXPIRADA = "expirada"  # silent for longer than the expiry

    @classmethod
    def unfinished(cls) -> tuple[InterviewStatus, ...]:
        """An interview that may still be answered (export: «incompleta»)."""
        return (cls.EN_CURSO, cls.PAUSADA)

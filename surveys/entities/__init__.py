"""Territorial entities (DIVIPOLA) and finding one from what a respondent typed.

The reference data are CSV copies bundled in ``surveys/data`` (see its README): 1,122 DIVIPOLA codes (municipios,
the island of San Andrés and the áreas no municipalizadas, all ``kind="alcaldia"``) plus the 33 departments as
``kind="gobernacion"`` (2-digit codes; Bogotá D.C. is both the alcaldía 11001 and the department-level code 11).
:func:`read_reference` turns them into :class:`ReferenceEntity` records and :func:`load_entities` upserts those into the
``entity`` table.

:class:`EntityIndex` answers "which entity is this?" for chat text such as ``"Genova Q"``, ``"alcaldía de Cali"`` or
``"gobernacion del meta"``. The rules, in order:

1. Text is folded (accents, case, punctuation) and courtesy/office prefixes are dropped: "soy de", "alcaldía
   (municipal) de", "municipio de", "secretaría de planeación de", … A "gobernación"/"departamento" prefix restricts
   the answer to gobernaciones, an "alcaldía"/"municipio" prefix to alcaldías.
2. A trailing department, written in full, in short ("Valle", "Guajira"), as an ISO 3166-2 code ("ANT") or as an
   unambiguous abbreviation ("Q", "Cund", "Boy"), qualifies the municipality: "Génova (Q)", "San Andrés Santander".
3. Exact names (official names and the aliases in ``entity_aliases.csv``: "Cali", "Cartagena", "Cúcuta", …) win
   over fuzzy ones. A name shared by several municipalities is *ambiguous*; the caller asks for the department and
   passes the answer to :meth:`EntityIndex.narrow`.
4. **A bare department name means the gobernación**: "Meta" → Gobernación del Meta, because no municipality has that
   name and in a survey of territorial entities a respondent naming only a department speaks for its government. When
   municipalities share the name ("Arauca", "Bolívar", "Nariño", "Sucre", "Córdoba", "Caldas") the answer is
   ambiguous between the gobernación (listed first) and those alcaldías. Bogotá is the exception: "Bogotá" is the
   alcaldía 11001; department code 11 is only chosen when the text says gobernación/departamento.
5. Otherwise fuzzy matching (rapidfuzz) over precomputed folded names: one clear winner is *found*, near-ties are
   *ambiguous*, weaker matches come back as *not_found* with a few suggestions.

One concern per module: ``kinds`` (alcaldía, gobernación, other grupos de valor), ``names`` (title case,
display names), ``records`` (:class:`ReferenceEntity`), ``reference`` (reading the CSVs), ``load``
(upsert into the ``entity`` table) and ``lookup`` (:class:`EntityIndex`). Names are compared folded by
``surveys.folding.fold_words``.
"""

from surveys.entities.kinds import NATIONAL_DEPT, OTHER_CODE, OTHER_KIND, is_territorial
from surveys.entities.load import load_entities
from surveys.entities.lookup import EntityIndex, Lookup
from surveys.entities.names import display_name, title_es
from surveys.entities.records import ReferenceEntity
from surveys.entities.reference import DATA_DIR, read_aliases, read_reference

__all__ = [
    "DATA_DIR",
    "NATIONAL_DEPT",
    "OTHER_CODE",
    "OTHER_KIND",
    "EntityIndex",
    "Lookup",
    "ReferenceEntity",
    "display_name",
    "is_territorial",
    "load_entities",
    "read_aliases",
    "read_reference",
    "title_es",
]

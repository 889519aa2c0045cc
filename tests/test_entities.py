"""DIVIPOLA reference data, loading it into the database, and finding an entity from chat text."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from surveys import db
from surveys.entities import (
    DATA_DIR,
    EntityIndex,
    Lookup,
    ReferenceEntity,
    load_entities,
    read_aliases,
    read_reference,
    title_es,
)
from surveys.folding import fold_words
from surveys.models import Entity

CASES = yaml.safe_load((Path(__file__).parent / "data" / "entity_lookup_cases.yaml").read_text(encoding="utf-8"))
REFERENCE_CSVS = (
    "divipola_municipios.csv",
    "divipola_departamentos.csv",
    "pdet_municipios.csv",
    "regiones_departamentos.csv",
)


@pytest.fixture(scope="module")
def entities() -> list[ReferenceEntity]:
    return read_reference()


@pytest.fixture(scope="module")
def index(entities: list[ReferenceEntity]) -> EntityIndex:
    return EntityIndex(entities)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the reference CSVs."""
    target = tmp_path / "data"
    target.mkdir()
    for name in REFERENCE_CSVS:
        shutil.copy(DATA_DIR / name, target / name)
    return target


@pytest.fixture
def session(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path}/t.sqlite3"
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.session_factory(engine)() as session:
        yield session
    engine.dispose()


def rewrite_csv(path: Path, change: Any) -> None:
    """Apply ``change(rows)`` (a list of dicts it may edit in place or return anew) to a CSV file."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header, rows = list(reader.fieldnames or []), list(reader)
    rows = change(rows) or rows
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[h for h in header if h in rows[0]] if rows else header)
        writer.writeheader()
        writer.writerows(rows)


def codes(lookup: Lookup) -> list[str]:
    return [e.code for e in lookup.candidates]


# ------------------------------------------------------------------ the table-driven lookup cases


@pytest.mark.parametrize("case", CASES["lookup"], ids=lambda c: repr(c["text"]))
def test_lookup(index: EntityIndex, case: dict[str, Any]) -> None:
    result = index.lookup(case["text"])
    if "found" in case:
        assert (result.status, codes(result)) == ("found", [case["found"]]), [e.display for e in result.candidates]
        assert result.entity is result.candidates[0]
    elif "ambiguous" in case:
        assert result.status == "ambiguous", [e.display for e in result.candidates]
        assert set(case["ambiguous"]) <= set(codes(result)), [e.display for e in result.candidates]
        assert len(set(codes(result))) == len(result.candidates) <= 8
        assert len({e.display for e in result.candidates}) == len(result.candidates)  # the options can be told apart
        assert result.entity is None
    else:
        assert result.status == "not_found", [e.display for e in result.candidates]
        if case["not_found"]:
            assert set(case["not_found"]) <= set(codes(result))
        else:
            assert result.candidates == ()


@pytest.mark.parametrize("case", CASES["narrow"], ids=lambda c: f"{c['text']} → {c['answer']}")
def test_narrow(index: EntityIndex, case: dict[str, Any]) -> None:
    first = index.lookup(case["text"])
    assert first.status == "ambiguous"
    result = index.narrow(first.candidates, case["answer"])
    if "found" in case:
        assert (result.status, codes(result)) == ("found", [case["found"]]), [e.display for e in result.candidates]
    elif "ambiguous" in case:
        assert result.status == "ambiguous"
        assert set(codes(result)) == set(case["ambiguous"])
    else:
        assert result.status == "not_found"
        assert result.candidates == first.candidates  # unchanged options, to ask again


def test_narrow_by_number_follows_the_listed_order(index: EntityIndex) -> None:
    options = index.lookup("Buenavista").candidates
    assert [e.dept_name for e in options] == ["Boyacá", "Córdoba", "Quindío", "Sucre"]
    for i, option in enumerate(options, 1):
        assert index.narrow(options, str(i)).candidates == (option,)
    assert index.narrow(options, "0").status == "not_found"
    assert index.narrow((), "1").status == "not_found"


def test_ambiguous_options_are_in_different_departments(index: EntityIndex) -> None:
    for text in ("San Andrés", "Buenavista", "La Unión", "Santa Rosa", "Florencia"):
        options = index.lookup(text).candidates
        assert len({e.dept_code for e in options}) == len(options), text


def test_every_municipality_is_found_with_its_department(index: EntityIndex, entities: list[ReferenceEntity]) -> None:
    for e in entities:
        if e.kind == "alcaldia":
            for text in (f"{e.name} ({e.dept_name})", f"{e.official_name}, {e.dept_name}"):
                assert codes(index.lookup(text)) == [e.code], text
        else:
            text = f"Gobernación de {e.name}" if e.code != "11" else "gobernación de Bogotá"
            assert codes(index.lookup(text)) == [e.code], text


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("official", "display"),
    [
        ("SANTIAGO DE CALI", "Santiago de Cali"),
        ("BOGOTÁ, D.C.", "Bogotá, D.C."),
        ("SAN JOSÉ DEL GUAVIARE", "San José del Guaviare"),
        ("EL CARMEN DE VIBORAL", "El Carmen de Viboral"),
        ("LA JAGUA DE IBIRICO", "La Jagua de Ibirico"),
        ("BELÉN DE LOS ANDAQUÍES", "Belén de los Andaquíes"),
        ("PIENDAMÓ - TUNÍA", "Piendamó - Tunía"),
        ("ARCHIPIÉLAGO DE SAN ANDRÉS, PROVIDENCIA Y SANTA CATALINA",
         "Archipiélago de San Andrés, Providencia y Santa Catalina"),
        ("GÜICÁN DE LA SIERRA", "Güicán de la Sierra"),
    ],
)
def test_title_es(official: str, display: str) -> None:
    assert title_es(official) == display


def test_fold() -> None:
    assert fold_words("  GÉNOVA (Q.) ") == "genova q"
    assert fold_words("Bogotá, D.C.") == "bogota dc"
    assert fold_words("Nariño / Güicán") == "narino guican"
    assert fold_words("¿¡!?") == ""


@pytest.mark.parametrize(
    ("code", "display"),
    [
        ("63302", "Génova (Quindío)"),
        ("11001", "Bogotá, D.C."),
        ("76001", "Santiago de Cali (Valle del Cauca)"),
        ("88001", "San Andrés (San Andrés y Providencia)"),
        ("05", "Gobernación de Antioquia"),
        ("50", "Gobernación del Meta"),
        ("63", "Gobernación del Quindío"),
        ("76", "Gobernación del Valle del Cauca"),
        ("19", "Gobernación del Cauca"),
        ("44", "Gobernación de La Guajira"),
        ("54", "Gobernación de Norte de Santander"),
        ("25", "Gobernación de Cundinamarca"),
        ("08", "Gobernación del Atlántico"),
        ("88", "Gobernación del Archipiélago de San Andrés, Providencia y Santa Catalina"),
        ("11", "Bogotá, D.C. (nivel departamental)"),
    ],
)
def test_display(index: EntityIndex, code: str, display: str) -> None:
    entity = index.get(code)
    assert entity is not None and entity.display == display


# ------------------------------------------------------------------ reading the reference CSVs


def test_read_reference(entities: list[ReferenceEntity]) -> None:
    assert len(entities) == 1155
    by_code = {e.code: e for e in entities}
    assert len(by_code) == 1155  # every code unique
    kinds = Counter(e.kind for e in entities)
    assert kinds == {"alcaldia": 1122, "gobernacion": 33}
    assert Counter(e.muni_type for e in entities if e.kind == "alcaldia") == {
        "Municipio": 1103,
        "Área no municipalizada": 18,
        "Isla": 1,
    }
    assert all(len(e.code) == (5 if e.kind == "alcaldia" else 2) for e in entities)
    assert all(e.code.startswith(e.dept_code) for e in entities)
    assert all(e.region and set(e.regions) == {"region_pnd_2018_2022", "region_datosgov"} for e in entities)
    assert sum(e.pdet for e in entities) == 170
    assert len({e.pdet_subregion for e in entities if e.pdet}) == 16
    assert not any(e.pdet_subregion for e in entities if not e.pdet)
    assert all(e.lat is not None and e.lon is not None for e in entities)
    assert [e.code for e in entities] == sorted(by_code)

    genova = by_code["63302"]
    assert (genova.name, genova.official_name, genova.kind, genova.dept_name) == (
        "Génova", "GÉNOVA", "alcaldia", "Quindío"
    )
    assert by_code["95001"].name == "San José del Guaviare"
    meta = by_code["50"]
    assert (meta.kind, meta.name, meta.official_name, meta.dept_code) == ("gobernacion", "Meta", "META", "50")
    assert (meta.lat, meta.lon) == (by_code["50001"].lat, by_code["50001"].lon)  # the capital's
    assert by_code["19110"].pdet and by_code["19110"].pdet_subregion == "Alto Patía y Norte del Cauca"


def test_region_scheme_default_env_and_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("M360_REGION_SCHEME", raising=False)
    genova = {e.code: e for e in read_reference()}["63302"]
    assert genova.region == "Eje Cafetero y Antioquia"
    assert genova.regions == {
        "region_pnd_2018_2022": "Eje Cafetero y Antioquia",
        "region_datosgov": "Región Eje Cafetero - Antioquia",
    }

    monkeypatch.setenv("M360_REGION_SCHEME", "region_datosgov")
    by_env = {e.code: e for e in read_reference()}
    assert by_env["63302"].region == "Región Eje Cafetero - Antioquia"
    assert by_env["63"].region == "Región Eje Cafetero - Antioquia"

    by_parameter = {e.code: e for e in read_reference(scheme="region_pnd_2018_2022")}  # the parameter wins
    assert by_parameter["63302"].region == "Eje Cafetero y Antioquia"

    with pytest.raises(ValueError, match=r"regiones_departamentos\.csv.*region_nope"):
        read_reference(scheme="region_nope")


@pytest.mark.parametrize(
    ("file", "column"),
    [
        ("divipola_municipios.csv", "muni_name"),
        ("divipola_municipios.csv", "muni_code"),
        ("divipola_departamentos.csv", "capital_muni_code"),
        ("pdet_municipios.csv", "pdet_subregion"),
        ("regiones_departamentos.csv", "dept_code"),
    ],
)
def test_missing_column_is_a_clear_error(data_copy: Path, file: str, column: str) -> None:
    rewrite_csv(data_copy / file, lambda rows: [{k: v for k, v in r.items() if k != column} for r in rows])
    with pytest.raises(ValueError) as error:
        read_reference(data_copy)
    assert file in str(error.value) and f"missing column {column}" in str(error.value)


def test_bad_code_is_a_clear_error(data_copy: Path) -> None:
    def spoil(rows: list[dict[str, str]]) -> None:
        rows[3]["muni_code"] = "05A04"

    rewrite_csv(data_copy / "divipola_municipios.csv", spoil)
    with pytest.raises(ValueError, match=r"divipola_municipios\.csv, line 5: muni_code '05A04'"):
        read_reference(data_copy)


def test_codes_without_leading_zeros_are_padded(data_copy: Path) -> None:
    def excel(rows: list[dict[str, str]]) -> None:  # what a spreadsheet does to "05001"
        for row in rows:
            row["dept_code"], row["muni_code"] = row["dept_code"].lstrip("0"), row["muni_code"].lstrip("0")

    rewrite_csv(data_copy / "divipola_municipios.csv", excel)
    assert [e.code for e in read_reference(data_copy)] == [e.code for e in read_reference()]


def test_municipios_file_can_be_replaced_alone(data_copy: Path) -> None:
    updated = data_copy / "divipola_municipios_2026.csv"
    shutil.copy(data_copy / "divipola_municipios.csv", updated)

    def rename(rows: list[dict[str, str]]) -> None:
        next(r for r in rows if r["muni_code"] == "63302")["muni_name"] = "GÉNOVA NUEVA"

    rewrite_csv(updated, rename)
    entities = {e.code: e for e in read_reference(municipios=updated)}
    assert entities["63302"].name == "Génova Nueva"


def test_aliases() -> None:
    aliases = read_aliases()
    assert "Cali" in aliases["76001"] and "Valle" in aliases["76"]
    assert all(len(code) in (2, 5) for code in aliases)


# ------------------------------------------------------------------ the database


def test_load_entities_is_idempotent(session: Any, entities: list[ReferenceEntity]) -> None:
    assert load_entities(session, entities) == {"inserted": 1155, "updated": 0, "unchanged": 0}
    session.commit()
    assert load_entities(session, entities) == {"inserted": 0, "updated": 0, "unchanged": 1155}
    session.commit()
    genova = session.get(Entity, "63302")
    assert (genova.name, genova.dept_name, genova.region, genova.pdet) == (
        "Génova", "Quindío", "Eje Cafetero y Antioquia", False
    )
    assert genova.regions["region_datosgov"] == "Región Eje Cafetero - Antioquia"
    assert session.get(Entity, "50").kind == "gobernacion"

    # The bot builds its index from the table: same answers as from the CSVs.
    from_db = EntityIndex.from_session(session)
    assert len(from_db) == 1155
    assert from_db.get("63302") == {e.code: e for e in entities}["63302"]
    assert codes(from_db.lookup("Genova Q")) == ["63302"]


def test_updated_csv_updates_only_the_changed_row(session: Any, data_copy: Path) -> None:
    load_entities(session, read_reference(data_copy))
    session.commit()

    def rename(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        next(r for r in rows if r["muni_code"] == "63302")["muni_name"] = "GÉNOVA NUEVA"
        return [r for r in rows if r["muni_code"] != "05002"]  # a code that disappears is not deleted

    rewrite_csv(data_copy / "divipola_municipios.csv", rename)
    counts = load_entities(session, read_reference(data_copy))
    session.commit()
    assert counts == {"inserted": 0, "updated": 1, "unchanged": 1153}
    assert session.get(Entity, "63302").name == "Génova Nueva"
    assert session.get(Entity, "63302").official_name == "GÉNOVA NUEVA"
    assert session.get(Entity, "05002") is not None
    assert len(session.scalars(select(Entity)).all()) == 1155


def test_new_code_and_region_scheme_change(session: Any, data_copy: Path) -> None:
    load_entities(session, read_reference(data_copy))

    def add(rows: list[dict[str, str]]) -> None:
        rows.append({**rows[-1], "muni_code": "99999", "muni_name": "NUEVO MUNICIPIO", "muni_type": "Municipio"})

    rewrite_csv(data_copy / "divipola_municipios.csv", add)
    assert load_entities(session, read_reference(data_copy)) == {"inserted": 1, "updated": 0, "unchanged": 1155}
    # Switching the regional scheme rewrites the region of every entity, nothing else.
    counts = load_entities(session, read_reference(data_copy, scheme="region_datosgov"))
    assert counts == {"inserted": 0, "updated": 1156, "unchanged": 0}
    assert session.get(Entity, "99999").region == "Región Llano"  # Vichada


def test_empty_table_gives_an_index_that_finds_nothing(session: Any) -> None:
    empty = EntityIndex.from_session(session)
    assert len(empty) == 0
    assert empty.lookup("Génova").status == "not_found"
    assert empty.get("63302") is None

"""``m360 coder``: codebooks, train, predict, evaluate, recode (real spaCy, the fixture codebook)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from analysis.coding import codebooks
from bot.cli.root import main
from tests.support.coding import FIXTURE_CODEBOOKS, FIXTURE_CORPUS

SHARED = ["conectividad", "destiempo", "seguimiento_no_asistencia", "herramienta_alta_capacidad",
          "rotacion_personal", "solo_virtual", "otro", "sin_respuesta"]
ISSUE_CODES = {
    "articulacion": ["integralidad_proceso", "articulacion_dependencias", "apropiacion_temas"] + SHARED,
    "necesidades": ["comunicacion_personalizada", "particularidades_municipio", "agiliza_procesos",
                    "herramientas_contexto"] + SHARED,
    "capacidades": ["claridad_procesos", "coordinacion_interna", "apropiacion_compromiso",
                    "gestion_conocimiento"] + SHARED,
    "temas": ["formulacion_pdt", "plan_indicativo", "armonizacion_presupuestal", "planeacion_financiera",
              "seguimiento_pdt", "proyectos", "rendicion_cuentas", "agendas_regionales", "ordenamiento_territorial",
              "gobierno_abierto", "conectividad_digital", "otro", "sin_respuesta"],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("cli-models")
    result = CliRunner().invoke(main, ["coder", "train", "--codebook", "demo", "--no-db", "--models-dir",
                                       str(models), "--codebooks-dir", str(FIXTURE_CODEBOOKS),
                                       "--corpus-dir", str(FIXTURE_CORPUS)])
    assert result.exit_code == 0, result.output
    assert "demo:" in result.output and "macro-F1" in result.output and "coverage" in result.output
    return models


def run(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, ["coder", *args], input=input)
    assert result.exit_code == 0, result.output
    return result.output


def test_packaged_codebooks_use_the_issue_ids() -> None:
    books = codebooks.load_all()
    for cid, codes in ISSUE_CODES.items():
        if cid in books:  # every codebook of the issue, as its file lands
            assert list(books[cid].code_ids) == codes, cid
    for cid in ("valoracion_general", "sugerencias"):
        if cid in books:
            assert {"otro", "sin_respuesta"} <= set(books[cid].code_ids)
    output = run("codebooks")
    for cid in books:
        assert cid in output
    assert "integralidad_proceso" in output and "[shared]" in output
    listed = [json.loads(line) for line in run("codebooks", "--json").splitlines()]
    assert [b["id"] for b in listed] == list(books)


def test_predict_json_lines(trained: Path) -> None:
    lines = [{"id": 1, "text": "no hubo conectividad en las sesiones"}, {"id": "b", "text": ""},
             {"id": 3, "text": "jajaja"}, {"id": 4, "text": "las secretarias ahora trabajan coordinadas"}]
    out = run("predict", "--codebook", "demo", "--models-dir", str(trained), "--codebooks-dir",
              str(FIXTURE_CODEBOOKS), input="\n".join(json.dumps(x) for x in lines) + "\n\n")
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in results] == [1, "b", 3, 4]
    for r in results:
        assert set(r) == {"id", "codes", "scores", "needs_review"}
        assert r["codes"] and isinstance(r["needs_review"], bool) and len(r["scores"]) == 5
    assert results[0]["codes"] == ["conectividad"]
    assert results[1]["codes"] == results[2]["codes"] == ["sin_respuesta"]
    assert "coordinacion_interna" in results[3]["codes"]


def test_predict_rejects_bad_input_and_missing_models(trained: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["coder", "predict", "--codebook", "demo", "--models-dir", str(trained),
                                       "--codebooks-dir", str(FIXTURE_CODEBOOKS)], input="not json\n")
    assert result.exit_code == 1 and "line 1" in result.output
    result = CliRunner().invoke(main, ["coder", "predict", "--codebook", "demo", "--models-dir", str(tmp_path),
                                       "--codebooks-dir", str(FIXTURE_CODEBOOKS)], input="")
    assert result.exit_code == 1 and "m360 coder train --codebook demo" in result.output
    result = CliRunner().invoke(main, ["coder", "predict", "--codebook", "nope"], input="")
    assert result.exit_code == 2 and "unknown codebook" in result.output


def test_evaluate_against_a_file(trained: Path, tmp_path: Path) -> None:
    data = tmp_path / "gold.jsonl"
    rows = [{"id": "g1", "text": "se cae el internet todo el tiempo", "codes": ["conectividad"]},
            {"id": "g2", "text": "", "codes": ["sin_respuesta"]},
            {"id": "g3", "text": "nos quedo claro el paso a paso", "codes": ["claridad_procesos"]}]
    data.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    out = json.loads(run("evaluate", "--codebook", "demo", "--data", str(data), "--json", "--models-dir",
                         str(trained), "--codebooks-dir", str(FIXTURE_CODEBOOKS)))
    assert out["n"] == 3 and out["codebook"] == "demo"
    assert set(out) >= {"macro_f1", "kappa", "coverage", "auto_precision", "per_code", "threshold"}
    assert out["per_code"]["sin_respuesta"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1,
                                                "predicted": 1, "kappa": 1.0}
    text = run("evaluate", "--codebook", "demo", "--models-dir", str(trained), "--codebooks-dir",
               str(FIXTURE_CODEBOOKS))  # default: the held-out split of the fixture corpus
    assert "macro-F1" in text and "kappa" in text and "auto-accept at threshold" in text and "coverage" in text
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "x", "codes": ["inventado"]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["coder", "evaluate", "--codebook", "demo", "--data", str(bad),
                                       "--models-dir", str(trained), "--codebooks-dir", str(FIXTURE_CODEBOOKS)])
    assert result.exit_code == 1 and "inventado" in result.output


def test_train_needs_a_codebook() -> None:
    result = CliRunner().invoke(main, ["coder", "train"])
    assert result.exit_code == 2 and "--codebook" in result.output

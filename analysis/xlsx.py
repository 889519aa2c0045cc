"""The informe as a workbook: one sheet per table of the report dict (openpyxl through pandas),
the same numbers as the JSON and the HTML. Sheet names are Spanish, at most 31 characters; a text
a spreadsheet would run as a formula is neutralised (surveys.spreadsheet)."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from surveys.spreadsheet import neutralise_workbook


def tables(r: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Sheet name → table."""
    out: dict[str, pd.DataFrame] = {}
    s, prev = r["summary"], r["previous"]
    out["resumen"] = pd.DataFrame(
        [{"indicador": key, "periodo": r["period"], "valor": s[key], "periodo_anterior": prev["period"],
          "valor_anterior": prev["summary"].get(key), "cambio": prev["change"].get(key)} for key in s]
        + [{"indicador": f"filtro_{k}", "valor": v} for k, v in r["filters"].items()])
    out["puntaje_general"] = pd.DataFrame(
        [{"periodo": m["period"], "puntaje": d["value"], "etiqueta": d["label"], "n": d["n"], "pct": d["pct"],
          "promedio_mes": m["mean"]} for m in r["puntaje_general_by_month"] for d in m["distribution"]])
    out["por_region"] = pd.DataFrame(r["by_region"], columns=["region", "n", "mean_puntaje_general", "mean_score",
                                                              "insatisfechos", "pct_insatisfechos"])
    out["serie_mensual"] = pd.DataFrame([{"periodo": m["period"], **{k: v for k, v in m.items() if k != "period"}}
                                         for m in r["monthly"]])
    out["aspectos"] = pd.DataFrame([{"aspecto": a["question"], "etiqueta": a["label"], "periodo": m["period"],
                                     "n": m["n"], "promedio": m["mean"]} for a in r["aspects"] for m in a["months"]])
    out["temas"] = pd.DataFrame([{"tema": t["question"], "etiqueta_tema": t["label"], "periodo": m["period"],
                                  "calificacion": lab["value"], "etiqueta": lab["label"], "n": lab["n"],
                                  "pct": lab["pct"], "calificaron": m["n"], "no_aplica": m["no_aplica"]}
                                 for t in r["themes"] for m in t["months"] for lab in m["labels"]])
    out["contribucion"] = pd.DataFrame([{"pregunta": c["question"], "periodo": m["period"], "respuesta": a["value"],
                                         "etiqueta": a["label"], "n": a["n"], "pct": a["pct"], "respondieron": m["n"]}
                                        for c in r["contribution"] for m in c["months"] for a in m["answers"]])
    # Shares count only decided codings (accepted by the coder or reviewed); pending ones are beside them.
    out["categorias"] = pd.DataFrame(
        [{"pregunta": c["question"], "codebook": c["codebook"], "periodo": m["period"], "codigo": k["code"],
          "etiqueta": k["label"], "n": k["n"], "pct": k["pct"], "codificadas": m["coded"], "respuestas": m["answers"],
          "pendientes_revision": m["pending"]}
         for c in r["codes"] for m in c["months"] for k in m["codes"]],
        columns=["pregunta", "codebook", "periodo", "codigo", "etiqueta", "n", "pct", "codificadas", "respuestas",
                 "pendientes_revision"])
    out["codificacion"] = pd.DataFrame(
        [{"pregunta": c["question"], "codebook": c["codebook"], "periodo": m["period"], "respuestas": m["answers"],
          "codificadas": m["coded"], "pendientes_revision": m["pending"], "sin_codificar": m["uncoded"]}
         for c in r["codes"] for m in c["months"]],
        columns=["pregunta", "codebook", "periodo", "respuestas", "codificadas", "pendientes_revision",
                 "sin_codificar"])
    d = r["demand"]
    out["demanda_acumulada"] = pd.DataFrame(
        [{"tema": t["theme"], "etiqueta": t["label"], "menciones": t["n"], "pct_menciones": t["pct_mentions"],
          "pct_entrevistas": t["pct_interviews"], "desde": d["since"], "hasta": d["until"]} for t in d["themes"]],
        columns=["tema", "etiqueta", "menciones", "pct_menciones", "pct_entrevistas", "desde", "hasta"])
    out["prioritarias"] = pd.DataFrame(
        [{"entidad_codigo": p["entity_code"], "entidad": p["entity"], "departamento": p["department"],
          "region": p["region"], "lat": p["lat"], "lon": p["lon"], "puntaje": p["score"],
          "motivos": "; ".join(m["detail"] for m in p["reasons"]), "tickets": "; ".join(p["tickets"])}
         for p in r["priority"]],
        columns=["entidad_codigo", "entidad", "departamento", "region", "lat", "lon", "puntaje", "motivos", "tickets"])
    if r.get("entity"):
        out["entrevistas_entidad"] = pd.DataFrame(
            [{"periodo": i["period"], "puntaje": i["score"], **{k: "; ".join(v) if isinstance(v, list) else v
                                                               for k, v in i["answers"].items()}}
             for i in r["entity"]["interviews"]])
    return out


def render(report: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, table in tables(report).items():
            neutralise_workbook(table).to_excel(writer, sheet_name=name[:31], index=False)
    return buffer.getvalue()

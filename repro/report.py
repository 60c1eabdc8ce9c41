"""Reports: ours vs the paper, from whatever runs exist.

`write_report(manifest, results, out_dir, fmt)` writes `report.md` (Markdown tables),
`report.txt` (plain tables) and `figures/*.png` into out_dir and prints the plain text:
Table 3 and Table 4 side by side with the paper (paper, ours, Δ, tolerance, verdict), the
tables a manifest declares (`report_tables`: e.g. the unit-test study's Table IV), the
other reference numbers (Figures 1, 5, 7 and the text), aggregates such as the best ICL
score, the headline claims check by check (effect and 95 % interval) and the ours-vs-paper
scatter. Every verdict comes from `repro.verdicts.evaluate`, as in `repro reproduce`; the
exit code is its `exit_code`. A verdict marked `~` is a cell whose band also covers a
neighbouring method of the same model (it cannot tell them apart).
"""
from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from repro import records
from repro.aggregates import load_aggregates
from repro.compare import basis_label
from repro.figures import ours_vs_paper, write_figures
from repro.verdicts import evaluate

TABLE3_METRICS = ("em@1", "em@10", "codebleu")
TABLE4_METRICS = ("avg", "pass@1", "pass@2", "pass@5")
DIFFICULTIES = ("introductory", "interview", "competition")


def _num(v, digits=2) -> str:
    if v is None:
        return "—"
    if abs(v) >= 1e5:
        return f"{v / 1e6:.2f}M"
    return f"{v:.{digits}f}"


def _delta(v) -> str:
    if v is None:
        return "—"
    return f"{v / 1e6:+.2f}M" if abs(v) >= 1e5 else f"{v:+.2f}"


def _primary_source(row) -> str:
    return (row.get("source") or "").split(";")[0].split()[0] if row.get("source") else ""


def _cells(row) -> list[str]:
    verdict = row["verdict"] + (" ~" if row.get("indistinct_from") else "")
    return [_num(row["expected"]), _num(row["obtained"]), _delta(row["delta"]),
            "—" if row["tolerance"] is None else "±" + _num(row["tolerance"]), verdict]


def _group_headers(metric: str) -> list[str]:
    return [f"{metric} paper", "ours", "Δ", "tol.", "verdict"]


def _table(rows, headers, fmt) -> str:
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def table3(rows: list[dict], manifest, fmt: str) -> str:
    runs = {r.id: r for r in manifest.runs}
    mine = [r for r in rows if _primary_source(r) == "table3"]
    if not mine:
        return ""
    parts = []
    by_run: dict = {}
    for r in mine:
        by_run.setdefault(r["run"], {})[r["metric"]] = r
    for ds in sorted({runs[rid].config["dataset"] for rid in by_run}):
        body = []
        for rid, metrics in by_run.items():
            cfg = runs[rid].config
            if cfg["dataset"] != ds or runs[rid].kind != "evaluate":
                continue
            line = [cfg["model"], cfg["tuning"]["method"]]
            for m in TABLE3_METRICS:
                line += _cells(metrics[m]) if m in metrics else ["—"] * 5
            body.append(line)
        headers = ["model", "method"] + [h for m in TABLE3_METRICS for h in _group_headers(m)]
        parts.append(f"### Table 3, {ds}\n\n" + _table(body, headers, fmt))
    params = [[runs[r["run"]].config["model"], runs[r["run"]].config["tuning"]["method"], *_cells(r)]
              for r in mine if r["metric"] == "trainable_parameters"]
    if params:
        parts.append("### Table 3, trainable parameters\n\n" + _table(
            params, ["model", "method", "paper", "ours", "Δ", "tol.", "verdict"], fmt))
    return "\n\n".join(parts)


def table4(rows: list[dict], manifest, fmt: str, results: Path = Path(".")) -> str:
    """Paper-mode verdicts against the paper; the strict mode's numbers beside them."""
    runs = {r.id: r for r in manifest.runs}
    mine = [r for r in rows if _primary_source(r) == "table4"]
    if not mine:
        return ""
    cell = {(r["run"], r["metric"]): r for r in mine}
    ordered = list(dict.fromkeys(r["run"] for r in mine))
    body, gains = [], []
    zero = next((rid for rid in ordered if runs[rid].config["tuning"]["method"] == "none"), None)
    from repro.compare import load_metrics

    for rid in ordered:
        method = runs[rid].config["tuning"]["method"]
        label = "zero-shot" if method == "none" else method
        run_metrics = load_metrics(results, rid) or {}
        for d in DIFFICULTIES:
            line = [label, d]
            for m in TABLE4_METRICS:
                row = cell.get((rid, f"apps/{d}/{m}"))
                line += _cells(row) if row else ["—"] * 5
            line += [_num(run_metrics.get(f"apps-strict/{d}/avg")), _num(run_metrics.get(f"apps-strict/{d}/pass@1"))]
            body.append(line)
            if zero and rid != zero:
                a, z = cell.get((rid, f"apps/{d}/avg")), cell.get((zero, f"apps/{d}/avg"))
                if a and z:
                    ours = None if a["obtained"] is None or z["obtained"] is None else a["obtained"] - z["obtained"]
                    gains.append([label, d, _delta(a["expected"] - z["expected"]), _delta(ours)])
    headers = (["method", "difficulty"] + [h for m in TABLE4_METRICS for h in _group_headers(m)]
               + ["strict avg (ours)", "strict pass@1 (ours)"])
    text = "### Table 4, APPS (CodeLlama-7B-Instruct)\n\n" + _table(body, headers, fmt)
    if gains:
        text += ("\n\nGain over zero-shot in average test pass (claim 6, 'most at introductory level'):\n\n"
                 + _table(gains, ["method", "difficulty", "paper", "ours"], fmt))
    return text


# Columns of the all-results table: (metrics.json key, header). Both CodeBLEU variants and both
# APPS verdict modes stand side by side (docs/METRICS.md, docs/APPS_VERDICTS.md).
RESULT_COLUMNS = (("em@1", "EM@1"), ("em@10", "EM@10"), ("codebleu", "CodeBLEU (paper)"),
                  ("codebleu-pypi", "CodeBLEU (PyPI)"),
                  ("apps/overall/avg", "APPS avg (paper mode)"), ("apps-strict/overall/avg", "APPS avg (strict)"),
                  ("apps/overall/pass@1", "pass@1 (paper)"), ("apps-strict/overall/pass@1", "pass@1 (strict)"))


def results_table(manifest, results: Path, fmt: str) -> str:
    """Every evaluation run that has results, with the metrics it has (no paper value needed)."""
    from repro.compare import load_metrics

    body, used = [], set()
    found = []
    for run in manifest.runs:
        if run.kind != "evaluate":
            continue
        m = load_metrics(results, run.id)
        if m is None:
            continue
        found.append((run, m))
        used |= {key for key, _ in RESULT_COLUMNS if key in m}
    if not found:
        return ""
    columns = [(k, h) for k, h in RESULT_COLUMNS if k in used]
    for run, m in found:
        body.append([run.id, run.config["model"], run.config["tuning"]["method"]]
                    + [_num(m.get(k)) for k, _ in columns])
    return _table(body, ["run", "model", "tuning"] + [h for _, h in columns], fmt)


def declared_tables(rows: list[dict], manifest, fmt: str) -> tuple[list[tuple[str, str]], set]:
    """The manifest's `report_tables`: per table, one row per (model, tuning method) of the
    table's dataset, and per metric the paper's value, ours, delta, tolerance and verdict.
    Returns the sections and the (run, metric) cells they show."""
    runs = {r.id: r for r in manifest.runs}
    cell = {(r["run"], r["metric"]): r for r in rows}
    sections, shown = [], set()
    for spec in getattr(manifest, "report_tables", []) or []:
        body = []
        for run in manifest.runs:
            cfg = run.config
            if run.kind != "evaluate" or cfg["dataset"] != spec["dataset"]:
                continue
            if not any((run.id, m) in cell for m in spec["metrics"]):
                continue
            line = [cfg["model"], cfg["tuning"]["method"]]
            for m in spec["metrics"]:
                ref = cell.get((run.id, m))
                line += _cells(ref) if ref else ["—"] * 5
                shown.add((run.id, m))
            body.append(line)
        headers = ["model", "method"] + [h for m in spec["metrics"] for h in _group_headers(m)]
        sections.append((spec["title"], _table(body, headers, fmt)))
    return sections, shown


def other_references(rows: list[dict], fmt: str) -> str:
    mine = [r for r in rows if _primary_source(r) not in ("table3", "table4")]
    if not mine:
        return ""
    return _table([[r["run"], r["metric"], r["source"] or "—", basis_label(r), *_cells(r)] for r in mine],
                  ["run", "metric", "source", "reference is", "reference", "ours", "Δ", "tol.", "verdict"], fmt)


def aggregate_table(rows: list[dict], fmt: str) -> str:
    return _table([[r["run"], r["metric"], r["source"] or "—", *_cells(r),
                    f"{r['missing_runs']} missing" if r["missing_runs"] else "all present"] for r in rows],
                  ["aggregate", "metric", "source", "paper", "ours", "Δ", "tol.", "verdict", "runs"], fmt)


def claims_section(claims: list[dict], fmt: str) -> str:
    """Each claim's statement beside its verdict, then every check with effect and interval."""
    parts = []
    for c in claims:
        counts = ", ".join(f"{n} {v}" for v, n in c["counts"].items() if n)
        head = f"**{c['claim']}**: {c['verdict']} ({counts})\n\nStatement: {c['text']}"
        if c.get("caveat"):
            head += f"\n\nCaveat: {c['caveat']}"
        body = [[chk["note"], chk["verdict"], _delta(chk["effect"]),
                 "—" if chk["interval"] is None else f"[{chk['interval'][0]:+.2f}, {chk['interval'][1]:+.2f}]",
                 chk["method"] or chk["details"]] for chk in c["checks"]]
        parts.append(head + "\n\n" + _table(body, ["check (A > B)", "verdict", "A - B", "95% interval", "method"], fmt))
    return "\n\n".join(parts)


def indistinct_section(rows: list[dict], fmt: str) -> str:
    mine = [r for r in rows if r.get("indistinct_from")]
    if not mine:
        return ""
    intro = (f"{len(mine)} of {sum(1 for r in rows if r['basis'] == 'paper' and r['expected'] is not None)} paper "
             "cells cannot tell their method from a neighbouring one of the same model: the neighbour's paper "
             "value lies inside this cell's band (docs/TOLERANCES.md). Their pass says the run is compatible "
             "with the paper, not that it reproduces this method rather than the neighbour.\n\n")
    return intro + _table([[r["run"], r["metric"], _num(r["expected"]), "±" + _num(r["tolerance"]),
                            ", ".join(r["indistinct_from"])] for r in mine],
                          ["run", "metric", "paper", "tol.", "band also covers"], fmt)


def build_sections(manifest, results: Path, fmt: str, verdicts=None) -> tuple[list[tuple[str, str]], int]:
    verdicts = verdicts or evaluate(manifest, results)
    rows = [r for r in verdicts.references if not r.get("aggregate")]
    aggregates = [r for r in verdicts.references if r.get("aggregate")]
    claims = verdicts.claims
    present = sum(1 for r in manifest.runs if (Path(results) / r.id / "metrics.json").exists())
    sections = [("Runs", f"{present} of {len(manifest.runs)} runs have results in {results}.")]
    declared, shown = declared_tables(rows, manifest, fmt)
    sections += declared
    rest = [r for r in rows if (r["run"], r["metric"]) not in shown]
    for title, text in (("Table 3 (RQ2)", table3(rows, manifest, fmt)), ("Table 4 (RQ4)", table4(rows, manifest, fmt, results)),
                        ("Other reference numbers", other_references(rest, fmt))):
        if text:
            sections.append((title, text))
    if not rows:
        sections.append(("Reference numbers", "(this manifest gives no reference numbers)"))
    if aggregates:
        sections.append(("Aggregates", aggregate_table(aggregates, fmt)))
    all_results = results_table(manifest, results, fmt)
    if all_results:
        sections.append(("All results (both CodeBLEU variants, both APPS verdict modes)", all_results))
    if claims:
        sections.append(("Headline claims", claims_section(claims, fmt)))
    indistinct = indistinct_section(verdicts.references, fmt)
    if indistinct:
        sections.append(("Cells that cannot discriminate", indistinct))
    status = verdicts.exit_code
    sections.append(("Verdict", "all checks pass" if status == 0 else
                     "SOME CHECKS FAIL:\n\n" + "\n".join(f"- {f}" for f in verdicts.failures)))
    return sections, status


def _icl_best(manifest, results: Path) -> dict:
    from repro.aggregates import aggregate_value

    out = {}
    for agg in load_aggregates(manifest):
        first = manifest.get(agg["runs"][0]).config
        if first["prompting"]["strategy"] == "icl":
            value, _ = aggregate_value(agg, manifest, results)
            out[(first["dataset"], first["model"])] = value
    return out


def _render(manifest, sections, figures, heading) -> str:
    lines = [f"# Report: {manifest.study} ({manifest.path})", ""]
    for title, text in sections:
        lines += [f"{heading} {title}", "", text, ""]
    lines += [f"{heading} Figures", ""]
    for name, path in figures.items():
        lines.append(f"- {name}: {path.name if path else 'no data yet (no run of it has results or a paper value)'}")
    return "\n".join(lines) + "\n"


def write_report(manifest, results: Path, out_dir: Path, fmt: str = "simple") -> int:
    results, out_dir = Path(results), Path(out_dir)
    figures = write_figures(manifest, results, out_dir / "figures", _icl_best(manifest, results))
    verdicts = evaluate(manifest, results)
    figures["Ours vs reference, every cell"] = ours_vs_paper(verdicts.references, manifest, out_dir / "figures")
    md_sections, status = build_sections(manifest, results, "github", verdicts)
    plain_sections, _ = build_sections(manifest, results, fmt if fmt != "github" else "simple", verdicts)
    records.write_atomic(out_dir / "report.md", _render(manifest, md_sections, figures, "##"))
    plain = _render(manifest, plain_sections, figures, "==")
    records.write_atomic(out_dir / "report.txt", plain)
    records.write_sums(out_dir)  # so `repro verify` covers a report written inside a results directory
    print(_render(manifest, md_sections, figures, "##") if fmt == "github" else plain)
    print(f"wrote {out_dir / 'report.md'}, {out_dir / 'report.txt'} and {out_dir / 'figures'}/")
    return status

"""Reports: ours vs the paper, from whatever runs exist.

`write_report(manifest, results, out_dir, fmt)` writes `report.md` (Markdown tables),
`report.txt` (plain tables) and `figures/*.png` into out_dir and prints the plain text: the
tables a manifest declares (`report_tables`: the first study's Tables 3 and 4, the second
study's Table IV) side by side with the paper (paper, ours, Δ, tolerance, verdict), the
other reference numbers (Figures 1, 5, 7 and the text), aggregates such as the best ICL
score, and the headline claims check by check. Missing runs show as "not yet run".
Returns 1 when a reference or a claim fails, else 0.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from tabulate import tabulate

from repro import records
from repro.aggregates import compare_aggregates, load_aggregates
from repro.compare import FAIL, MISSING, compare_all, evaluate_claims
from repro.figures import write_figures

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
    return [_num(row["expected"]), _num(row["obtained"]), _delta(row["delta"]),
            "—" if row["tolerance"] is None else "±" + _num(row["tolerance"]), row["verdict"]]


def _group_headers(metric: str) -> list[str]:
    return [f"{metric} paper", "ours", "Δ", "tol.", "verdict"]


def _table(rows, headers, fmt) -> str:
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def results_table(manifest, results: Path, fmt: str) -> str:
    """Every evaluation run that has results, with the metrics it has (no paper value needed)."""
    from repro.compare import load_metrics

    from repro import tasks

    # Columns: (metrics.json key, header) that the tasks name, e.g. both CodeBLEU variants
    # and both verdict modes of an execution metric side by side.
    result_columns = [c for task in tasks.all_tasks().values() for c in task.result_columns]
    body, used = [], set()
    found = []
    for run in manifest.runs:
        if run.kind != "evaluate":
            continue
        m = load_metrics(results, run.id)
        if m is None:
            continue
        found.append((run, m))
        used |= {key for key, _ in result_columns if key in m}
    if not found:
        return ""
    columns = [(k, h) for k, h in result_columns if k in used]
    for run, m in found:
        body.append([run.id, run.config["model"], run.config["tuning"]["method"]]
                    + [_num(m.get(k)) for k, _ in columns])
    return _table(body, ["run", "model", "tuning"] + [h for _, h in columns], fmt)


def _fill(metric: str, given: dict) -> str:
    return metric.format(**given) if given else metric


def _table_rows(spec: dict, manifest, cell: dict):
    """(run, the value of `each` as a dict, row label) per row of a declared table."""
    each = spec.get("each") or {}
    name, values = next(iter(each.items())) if each else (None, [None])
    for run in manifest.runs:
        cfg = run.config
        if run.kind != spec.get("kind", "evaluate") or cfg["dataset"] != spec.get("dataset", cfg["dataset"]):
            continue
        for value in values:
            given = {name: value} if name else {}
            if any((run.id, _fill(m, given)) in cell for m in spec["metrics"]):
                yield run, given, [cfg["model"], cfg["tuning"]["method"], *given.values()]


def _gain_rows(spec: dict, table_rows: list, cell: dict) -> list[list[str]]:
    """Each row's gain in `gain_over.metric` over the row of the same model (and value of
    `each`) tuned with `gain_over.method`: the paper's and ours."""
    gain, out = spec["gain_over"], []
    for run, given, label in table_rows:
        if run.config["tuning"]["method"] == gain["method"]:
            continue
        base = next((r for r, g, _ in table_rows if g == given and r.config["model"] == run.config["model"]
                     and r.config["tuning"]["method"] == gain["method"]), None)
        metric = _fill(gain["metric"], given)
        a, z = cell.get((run.id, metric)), base and cell.get((base.id, metric))
        if a and z:
            ours = None if a["obtained"] is None or z["obtained"] is None else a["obtained"] - z["obtained"]
            out.append([*label, _delta(a["expected"] - z["expected"]), _delta(ours)])
    return out


def declared_table(spec: dict, rows: list[dict], manifest, results: Path, fmt: str) -> tuple[str, set]:
    """One `report_tables` entry: per row (a run of the table's kind and dataset, times the
    values of `each`), per metric the paper's value, ours, delta, tolerance and verdict;
    `ours` columns give our value only; `gain_over` adds a table of gains over a baseline
    method. With `source`, only reference rows whose source starts with it count."""
    from repro.compare import load_metrics

    cell = {(r["run"], r["metric"]): r for r in rows
            if not spec.get("source") or _primary_source(r) == spec["source"]}
    table_rows = list(_table_rows(spec, manifest, cell))
    body, shown = [], set()
    for run, given, label in table_rows:
        line = list(label)
        for m in spec["metrics"]:
            ref = cell.get((run.id, _fill(m, given)))
            line += _cells(ref) if ref else ["—"] * 5
            shown.add((run.id, _fill(m, given)))
        ours = (load_metrics(results, run.id) or {}) if spec.get("ours") else {}
        body.append(line + [_num(ours.get(_fill(m, given))) for m in spec.get("ours", [])])
    label_headers = ["model", "method", *(spec.get("each") or {})]
    headers = (label_headers + [h for m in spec["metrics"] for h in _group_headers(m.rsplit("}/", 1)[-1])]
               + [f"{m.rsplit('}/', 1)[-1]} (ours)" for m in spec.get("ours", [])])
    text = _table(body, headers, fmt)
    gains = _gain_rows(spec, table_rows, cell) if spec.get("gain_over") else []
    if gains:
        text += f"\n\n{spec['gain_over']['title']}:\n\n" + _table(gains, label_headers + ["paper", "ours"], fmt)
    return text, shown


def declared_tables(rows: list[dict], manifest, results: Path, fmt: str) -> tuple[list[tuple[str, str]], set]:
    """The manifest's `report_tables` (the first study's Tables 3 and 4, the second study's
    Table IV): the sections, and the (run, metric) cells they show."""
    sections, shown = [], set()
    for spec in getattr(manifest, "report_tables", []) or []:
        text, cells = declared_table(spec, rows, manifest, results, fmt)
        sections.append((spec["title"], text))
        shown |= cells
    return sections, shown


def other_references(rows: list[dict], fmt: str) -> str:
    mine = rows
    if not mine:
        return ""
    return _table([[r["run"], r["metric"], r["source"] or "—", *_cells(r)] for r in mine],
                  ["run", "metric", "source", "paper/expected", "ours", "Δ", "tol.", "verdict"], fmt)


def aggregate_table(rows: list[dict], fmt: str) -> str:
    return _table([[r["run"], r["metric"], r["source"] or "—", *_cells(r),
                    f"{r['missing_runs']} missing" if r["missing_runs"] else "all present"] for r in rows],
                  ["aggregate", "metric", "source", "paper", "ours", "Δ", "tol.", "verdict", "runs"], fmt)


def claim_checks(manifest, results: Path) -> list[dict]:
    """Each claim with its checks evaluated one by one (holds / fails / not yet run)."""
    out = []
    for claim in manifest.claims:
        single = SimpleNamespace(claims=[{"id": f"{claim['id']}#{i}", "text": chk.get("note", ""), "checks": [chk]}
                                         for i, chk in enumerate(claim["checks"])])
        checks = evaluate_claims(single, results)
        verdicts = [c["verdict"] for c in checks]
        overall = "fails" if "fails" in verdicts else (MISSING if MISSING in verdicts else "holds")
        out.append({"claim": claim["id"], "text": claim["text"], "verdict": overall, "checks": checks,
                    "counts": {v: verdicts.count(v) for v in ("holds", "fails", MISSING)}})
    return out


def claims_section(claims: list[dict], fmt: str) -> str:
    table = _table([[c["claim"], c["verdict"], c["counts"]["holds"], c["counts"]["fails"], c["counts"][MISSING],
                     c["text"]] for c in claims],
                   ["claim", "verdict", "checks hold", "fail", "not yet run", "statement"], fmt)
    failing = [[c["claim"], chk["text"], chk["details"]] for c in claims for chk in c["checks"]
               if chk["verdict"] == "fails"]
    if failing:
        table += "\n\nFailing checks:\n\n" + _table(failing, ["claim", "check", "evidence"], fmt)
    return table


def build_sections(manifest, results: Path, fmt: str) -> tuple[list[tuple[str, str]], bool]:
    rows = compare_all(manifest, results)
    aggregates = compare_aggregates(load_aggregates(manifest), manifest, results)
    claims = claim_checks(manifest, results)
    present = sum(1 for r in manifest.runs if (Path(results) / r.id / "metrics.json").exists())
    sections = [("Runs", f"{present} of {len(manifest.runs)} runs have results in {results}.")]
    declared, shown = declared_tables(rows, manifest, results, fmt)
    sections += declared
    rest = [r for r in rows if (r["run"], r["metric"]) not in shown]
    if rest:
        sections.append(("Other reference numbers", other_references(rest, fmt)))
    if not rows:
        sections.append(("Reference numbers", "(this manifest gives no reference numbers)"))
    if aggregates:
        sections.append(("Aggregates", aggregate_table(aggregates, fmt)))
    all_results = results_table(manifest, results, fmt)
    if all_results:
        sections.append(("All results", all_results))
    if claims:
        sections.append(("Headline claims", claims_section(claims, fmt)))
    failed = (any(r["verdict"] == FAIL for r in rows + aggregates) or any(c["verdict"] == "fails" for c in claims))
    return sections, failed


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
    md_sections, failed = build_sections(manifest, results, "github")
    plain_sections, _ = build_sections(manifest, results, fmt if fmt != "github" else "simple")
    records.write_atomic(out_dir / "report.md", _render(manifest, md_sections, figures, "##"))
    plain = _render(manifest, plain_sections, figures, "==")
    records.write_atomic(out_dir / "report.txt", plain)
    records.write_sums(out_dir)  # so `repro verify` covers a report written inside a results directory
    print(_render(manifest, md_sections, figures, "##") if fmt == "github" else plain)
    print(f"wrote {out_dir / 'report.md'}, {out_dir / 'report.txt'} and {out_dir / 'figures'}/")
    return 1 if failed else 0

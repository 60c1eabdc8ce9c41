"""Reports: ours vs the paper, from whatever runs exist.

`write_report(manifest, results, out_dir, fmt)` writes `report.md` (Markdown tables),
`report.txt` (plain tables), `figures/*.png` and their `SHA256SUMS` into out_dir, as a unit:
built in a hidden directory beside it and renamed into place, so a killed report leaves no
half-written report (its build directory is swept later, `repro.scratch`). It prints the plain text: the
tables a manifest declares (`report_tables`: the first study's Tables 3 and 4, the second
study's Table IV) side by side with the paper (paper, ours, Δ, tolerance, verdict), the
other reference numbers (Figures 1, 5, 7 and the text), aggregates such as the best ICL
score, the headline claims check by check (effect and 95 % interval) and the ours-vs-paper
scatter. Every verdict comes from `repro.verdicts.evaluate`, as in `repro reproduce`; the
exit code is its `exit_code`. A verdict marked `~` is a cell whose band also covers a
neighbouring method of the same model (it cannot tell them apart).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tabulate import tabulate

from repro import paths, records, scratch
from repro.aggregates import load_aggregates
from repro.compare import basis_label
from repro.figures import ours_vs_paper, write_figures
from repro.verdicts import evaluate

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


REPORT_FILES = {"report.md", "report.txt", "figures", records.SUMS_NAME}   # what a report directory holds


def _replaceable(out_dir: Path) -> bool:
    """An earlier report: the package's marker naming a report (not a run), or (written before
    the marker) only report files."""
    return "report" in (paths.marker_says(out_dir) or {}) or {p.name for p in out_dir.iterdir()} <= REPORT_FILES


def write_report(manifest, results: Path, out_dir: Path, fmt: str = "simple") -> int:
    from repro.errors import UserError

    results, out_dir = Path(results), Path(out_dir)
    if out_dir.is_symlink() or (out_dir.exists() and not (out_dir.is_dir() and _replaceable(out_dir))):
        raise UserError("the report directory exists and holds files that `repro report` did not write",
                        file=str(out_dir), field="--out",
                        fix="pass a new directory (or an earlier report's) to --out, or move those files away")
    from filelock import FileLock

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out_dir.with_name(f".{out_dir.name}.lock"))):   # one report writer at a time
        scratch.sweep_tree(out_dir.parent, recursive=False)   # build directories of killed reports
        prefix, suffix = scratch.hidden_name(out_dir.name)
        build = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=out_dir.parent))
        try:
            text, status = _write_report_files(manifest, results, build, fmt)
            records.write_json(build / paths.MARKER, {"report": manifest.path})
            records.write_sums(build)  # so `repro verify` covers a report written inside a results directory
            _swap_into_place(build, out_dir)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    print(text)
    print(f"wrote {out_dir / 'report.md'}, {out_dir / 'report.txt'} and {out_dir / 'figures'}/")
    return status


def _swap_into_place(build: Path, out_dir: Path) -> None:
    """Rename the finished build directory to out_dir; an earlier report is renamed aside
    first (to a hidden scratch name) and removed after. Killed in between, out_dir is
    missing, never half-written, and both hidden directories are swept later."""
    old = None
    if out_dir.exists():
        prefix, suffix = scratch.hidden_name(out_dir.name)
        old = out_dir.with_name(f"{prefix}old{suffix}")
        out_dir.rename(old)
    build.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_report_files(manifest, results: Path, out_dir: Path, fmt: str) -> tuple[str, int]:
    figures = write_figures(manifest, results, out_dir / "figures", _icl_best(manifest, results))
    verdicts = evaluate(manifest, results)
    figures["Ours vs reference, every cell"] = ours_vs_paper(verdicts.references, manifest, out_dir / "figures")
    md_sections, status = build_sections(manifest, results, "github", verdicts)
    plain_sections, _ = build_sections(manifest, results, fmt if fmt != "github" else "simple", verdicts)
    markdown = _render(manifest, md_sections, figures, "##")
    records.write_atomic(out_dir / "report.md", markdown)
    plain = _render(manifest, plain_sections, figures, "==")
    records.write_atomic(out_dir / "report.txt", plain)
    return (markdown if fmt == "github" else plain), status

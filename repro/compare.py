"""Comparison with the paper (or with the smoke run's expected values): verdicts and claims.

`compare_run` turns a run's metrics and its manifest references into rows of
(paper/expected, obtained, delta, tolerance, verdict); `evaluate_claims` checks the
manifest's headline claims, written as orderings over run results.
"""
from __future__ import annotations

import json
from pathlib import Path

from repro.manifest import Manifest, Run, claim_side_runs

PASS, FAIL, MISSING = "pass", "FAIL", "not yet run"


def load_metrics(results: Path, run_id: str) -> dict | None:
    """metrics.json merged with resources.json (peak memory, times: not byte-deterministic)."""
    p = Path(results) / run_id / "metrics.json"
    if not p.exists():
        return None
    out = json.loads(p.read_text())
    res = p.with_name("resources.json")
    if res.exists():
        out.update(json.loads(res.read_text()))
    return out


def compare_run(run: Run, metrics: dict | None) -> list[dict]:
    rows = []
    for name, ref in sorted(run.reference.items()):
        row = {"run": run.id, "metric": name, "expected": ref["value"], "tolerance": ref["tolerance"],
               "source": ref.get("source", "")}
        if metrics is None or name not in metrics:
            row.update(obtained=None, delta=None, verdict=MISSING)
        else:
            got = metrics[name]
            delta = got - ref["value"]
            row.update(obtained=got, delta=round(delta, 4),
                       verdict=PASS if abs(delta) <= ref["tolerance"] + 1e-9 else FAIL)
        rows.append(row)
    return rows


def compare_all(manifest: Manifest, results: Path, runs: list[Run] | None = None) -> list[dict]:
    rows = []
    for run in runs or manifest.runs:
        rows += compare_run(run, load_metrics(results, run.id))
    return rows


def _side_value(side, metric: str | None, results: Path):
    if isinstance(side, dict) and "value" in side:  # a constant, e.g. "more than 80 %"
        return float(side["value"]), None
    if isinstance(side, dict):
        runs, metric, agg, factor = side["runs"], side.get("metric", metric), side.get("agg", "max"), side.get("factor", 1.0)
    else:
        runs, agg, factor = claim_side_runs(side), "max", 1.0
    values = []
    for rid in runs:
        m = load_metrics(results, rid)
        if m is None or metric not in m:
            return None, rid
        values.append(m[metric])
    value = {"max": max, "min": min, "mean": lambda v: sum(v) / len(v)}[agg](values)
    return value * factor, None


def evaluate_claims(manifest: Manifest, results: Path) -> list[dict]:
    out = []
    for claim in manifest.claims:
        verdict, details = PASS, []
        for chk in claim["checks"]:
            metric = chk.get("metric")
            g, missing_g = _side_value(chk["greater"], metric, results)
            l, missing_l = _side_value(chk["less"], metric, results)
            if g is None or l is None:
                verdict = MISSING if verdict != FAIL else FAIL
                details.append(f"{missing_g or missing_l}: not yet run")
                continue
            ok = g > l
            details.append(f"{g:.2f} > {l:.2f}" if ok else f"{g:.2f} <= {l:.2f}")
            if not ok:
                verdict = FAIL
        out.append({"claim": claim["id"], "text": claim["text"], "verdict": {PASS: "holds", FAIL: "fails"}.get(verdict, verdict),
                    "details": "; ".join(details)})
    return out


def verdict_table(rows: list[dict], fmt: str = "simple") -> str:
    from tabulate import tabulate

    def num(v):
        return "—" if v is None else f"{v:.2f}"

    table = [[r["run"], r["metric"], num(r["expected"]), num(r["obtained"]),
              "—" if r["delta"] is None else f"{r['delta']:+.2f}", f"±{r['tolerance']:.2f}", r["verdict"]]
             for r in rows]
    return tabulate(table, headers=["run", "metric", "paper/expected", "obtained", "Δ", "tolerance", "verdict"],
                    tablefmt=fmt, disable_numparse=True)


def claims_table(claims: list[dict], fmt: str = "simple") -> str:
    from tabulate import tabulate

    return tabulate([[c["claim"], c["verdict"], c["details"], c["text"]] for c in claims],
                    headers=["claim", "verdict", "evidence", "statement"], tablefmt=fmt, disable_numparse=True)

"""Verdicts: the one place that decides whether results reproduce a manifest.

`evaluate(manifest, results)` checks every reference number (of runs and of aggregates)
and every claim, and `Verdicts.exit_code` turns them into the exit code that `repro
reproduce`, `repro run` and `repro report` all return:

* a reference cell: **pass** when |ours - reference| <= tolerance, **FAIL** otherwise,
  **missing** when the run finished but did not produce the metric (a failure), **not yet
  run** when the run has no results; cells whose band also covers a neighbouring method of
  the same model (docs/TOLERANCES.md) carry the names of those methods in `indistinct_from`;
* a claim check "A > B": a paired bootstrap over the test samples (`repro.stats`) gives the
  effect A - B and its 95 % interval: **holds (significant)** when the interval lies above 0,
  **holds (within noise)** when A > B but the interval reaches 0, **fails (significant)** when
  the interval lies below 0, **fails (within noise)** otherwise; **not yet run** / **missing**
  as for cells. Metrics without per-sample records (peak memory, corpus CodeBLEU) get an
  analytic interval from their noise bound instead. A claim holds when all its checks hold.

Exit codes: 0 when nothing fails (runs not yet run are allowed), 1 when a cell fails or is
missing or a claim fails (significantly or within noise) or is missing; 2 is bad input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from repro import stats
from repro.aggregates import load_aggregates
from repro.compare import load_metrics
from repro.manifest import Manifest, Run

PASS, FAIL, MISSING, NOT_RUN = "pass", "FAIL", "missing", "not yet run"
HOLDS_SIG, HOLDS_NOISE = "holds (significant)", "holds (within noise)"
FAILS_SIG, FAILS_NOISE = "fails (significant)", "fails (within noise)"
BASES = {"paper": "paper", "by-construction": "by construction", "pinned": "pinned (reference machine)"}
Z95 = 1.959963984540054
MEMORY_BAND_GB, MEMORY_BAND_RELATIVE = 0.5, 0.10   # docs/TOLERANCES.md, "peak memory"


@dataclass
class Verdicts:
    references: list[dict] = field(default_factory=list)   # runs' and aggregates' reference cells
    claims: list[dict] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        out = [f"{r['run']} {r['metric']}: {r['verdict']}" for r in self.references if r["verdict"] in (FAIL, MISSING)]
        out += [f"claim {c['claim']}: {c['verdict']}" for c in self.claims
                if c["verdict"].startswith("fails") or c["verdict"] == MISSING]
        return out

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0


# ------------------------------------------------------------------------- reference cells ---

def _cell(run_id: str, metric: str, ref: dict, obtained, state: str) -> dict:
    row = {"run": run_id, "metric": metric, "expected": ref["value"], "tolerance": ref["tolerance"],
           "source": ref.get("source", ""), "basis": ref.get("basis", "paper"), "obtained": obtained,
           "delta": None, "indistinct_from": []}
    if state != "ok":
        row["verdict"] = state
    else:
        delta = obtained - ref["value"]
        row.update(delta=round(delta, 4), verdict=PASS if abs(delta) <= ref["tolerance"] + 1e-9 else FAIL)
    return row


def run_cells(run: Run, metrics: dict | None) -> list[dict]:
    rows = []
    for name, ref in sorted(run.reference.items()):
        if metrics is None:
            rows.append(_cell(run.id, name, ref, None, NOT_RUN))
        elif name not in metrics:
            rows.append(_cell(run.id, name, ref, None, MISSING))
        else:
            rows.append(_cell(run.id, name, ref, metrics[name], "ok"))
    return rows


def aggregate_cells(aggregates: list[dict], manifest: Manifest, results: Path) -> list[dict]:
    from repro.aggregates import aggregate_value

    rows = []
    for agg in aggregates:
        ref = agg.get("reference") or {"value": None, "tolerance": None}
        finished = {rid: load_metrics(results, rid) for rid in agg["runs"]}
        lacking = [rid for rid, m in finished.items() if m is not None and agg["metric"] not in m]
        value, missing = aggregate_value(agg, manifest, results)
        state = "ok" if value is not None else (MISSING if lacking else NOT_RUN)
        if ref["value"] is None:
            row = {"run": agg["id"], "metric": agg["metric"], "expected": None, "tolerance": None, "source": "",
                   "basis": "paper", "obtained": value, "delta": None, "indistinct_from": [],
                   "verdict": state if state != "ok" else "(no reference)"}
        else:
            row = _cell(agg["id"], agg["metric"], ref, value, state)
        row.update(aggregate=True, missing_runs=len(missing))
        rows.append(row)
    return rows


def _method_label(run: Run) -> str:
    c = run.config
    return c["tuning"]["method"] if c["tuning"]["method"] != "none" else c["prompting"]["strategy"]


def mark_indistinct(rows: list[dict], manifest: Manifest) -> None:
    """For each paper cell, the same-model, same-dataset neighbours (other tuning methods or
    prompting) whose paper value lies inside this cell's band: a run that got their number
    would pass this cell too."""
    by_id = {r.id: r for r in manifest.runs}
    groups: dict = {}
    for row in rows:
        run = by_id.get(row["run"])
        if run is None or row["basis"] != "paper" or row["expected"] is None:
            continue
        c = run.config
        groups.setdefault((c["model"], c["dataset"], run.kind, row["metric"]), []).append((row, _method_label(run)))
    for members in groups.values():
        for row, label in members:
            row["indistinct_from"] = sorted(other for o, other in members if other != label
                                            and abs(o["expected"] - row["expected"]) <= row["tolerance"] + 1e-9)


# ------------------------------------------------------------------------------- claims ---

class _NotReady(Exception):
    def __init__(self, state: str, detail: str):
        super().__init__(detail)
        self.state, self.detail = state, detail


def _side_spec(side, metric: str | None, aggregates: dict) -> dict:
    """A claim side in one form: {runs, metric, agg | group_by/within/across, factor, minus}."""
    if isinstance(side, str):
        return {"runs": [side], "metric": metric, "agg": "max", "factor": 1.0}
    if isinstance(side, list):
        return {"runs": side, "metric": metric, "agg": "max", "factor": 1.0}
    if "value" in side:
        return {"value": float(side["value"])}
    if "aggregate" in side:
        if side["aggregate"] not in aggregates:
            from repro.errors import ManifestError

            raise ManifestError(f"a claim names unknown aggregate '{side['aggregate']}'", field="claims",
                                fix="use the id of an entry of the manifest's `aggregates:`")
        agg = aggregates[side["aggregate"]]
        spec = {"runs": agg["runs"], "metric": agg["metric"], "group_by": agg.get("group_by"),
                "within": agg.get("within", "mean"), "agg": agg.get("across", "max"),
                "factor": side.get("factor", 1.0)}
    else:
        spec = {"runs": side["runs"], "metric": side.get("metric", metric), "agg": side.get("agg", "max"),
                "factor": side.get("factor", 1.0)}
    if "minus" in side:
        spec["minus"] = _side_spec(side["minus"], spec["metric"], aggregates)
    return spec


def _spec_runs(spec: dict) -> list[tuple[str, str]]:
    own = [(rid, spec["metric"]) for rid in spec.get("runs", [])]
    return own + (_spec_runs(spec["minus"]) if "minus" in spec else [])


def _load_side_inputs(spec: dict, results: Path, cache: dict) -> dict:
    """(run, metric) -> {"value": metrics.json value, "samples": per-sample dict or None, "n": samples}."""
    out = {}
    for key in _spec_runs(spec):
        if key not in cache:
            rid, metric = key
            m = load_metrics(results, rid)
            if m is None:
                cache[key] = _NotReady(NOT_RUN, f"{rid}: not yet run")
            elif metric not in m:
                cache[key] = _NotReady(MISSING, f"{rid}: finished without {metric}")
            else:
                cache[key] = {"value": float(m[metric]), "n": m.get("samples"),
                              "samples": stats.per_sample_scores(Path(results) / rid, metric)}
        if isinstance(cache[key], _NotReady):
            raise cache[key]
        out[key] = cache[key]
    return out


def _combine(spec: dict, vectors: dict, manifest: Manifest) -> np.ndarray:
    """The side's value on the full set and every resample, from per-run vectors."""
    if "value" in spec:
        return None
    if spec.get("group_by"):
        groups: dict = {}
        for rid in spec["runs"]:
            key = manifest.get(rid).config
            for part in spec["group_by"].split("."):
                key = key[part]
            groups.setdefault(key, []).append(vectors[(rid, spec["metric"])])
        within = stats.COMBINE[spec["within"]]
        stacked = np.stack([within(np.stack(v)) for _, v in sorted(groups.items())])
    else:
        stacked = np.stack([vectors[(rid, spec["metric"])] for rid in spec["runs"]])
    value = stats.COMBINE[spec["agg"]](stacked) * spec["factor"]
    if "minus" in spec:
        value = value - _combine(spec["minus"], vectors, manifest)
    return value


def _bootstrap(greater: dict, less: dict, inputs: dict, manifest: Manifest,
               resamples: stats.PairedResamples) -> tuple[float, tuple, str]:
    vectors, sets = {}, {}
    for key, entry in inputs.items():
        if "resampled" not in entry:
            entry["resampled"] = resamples.means(entry["samples"])
        ids, vectors[key] = entry["resampled"]
        sets[ids] = len(ids)
    size = resamples.resamples + 1
    g = _combine(greater, vectors, manifest) if "value" not in greater else np.full(size, greater["value"])
    l = _combine(less, vectors, manifest) if "value" not in less else np.full(size, less["value"])
    diffs = g - l
    return float(diffs[0]), stats.interval(diffs), (f"paired bootstrap, {resamples.resamples} resamples of "
                                                     f"{' + '.join(map(str, sets.values()))} test samples")


def _noise_sd(key: tuple, entry: dict) -> float | None:
    rid, metric = key
    if metric == "peak_memory_gb":
        return (MEMORY_BAND_GB + MEMORY_BAND_RELATIVE * entry["value"]) / Z95
    if entry["n"] and 0.0 <= entry["value"] <= 100.0 and metric != "trainable_parameters":
        return stats.se_bound(entry["value"], int(entry["n"]))
    return None


def _analytic(greater: dict, less: dict, inputs: dict, manifest: Manifest) -> tuple[float, tuple | None, str]:
    """No per-sample records: point values, and an interval from each run's noise bound (the
    largest bound of a side's runs, times its factor; sides independent)."""
    points = {k: np.array([e["value"]]) for k, e in inputs.items()}
    sds = {k: _noise_sd(k, e) for k, e in inputs.items()}

    def side(spec):
        if "value" in spec:
            return spec["value"], 0.0
        value = float(_combine(spec, points, manifest)[0])
        own = [sds[(rid, spec["metric"])] for rid in spec["runs"]]
        sd = None if None in own else max(own) * abs(spec["factor"])
        if "minus" in spec:
            _, other = side(spec["minus"])
            sd = None if sd is None or other is None else math.hypot(sd, other)
        return value, sd

    (g, sg), (l, sl) = side(greater), side(less)
    diff = g - l
    if sg is None or sl is None:
        return diff, None, "point values (no per-sample records and no noise bound for this metric)"
    half = Z95 * math.hypot(sg, sl)
    return diff, (diff - half, diff + half), "point values ± 1.96 x the noise bound (no per-sample records)"


def _check_verdict(diff: float, ci: tuple | None) -> str:
    if diff > 0:
        return HOLDS_SIG if ci is not None and ci[0] > 0 else HOLDS_NOISE
    return FAILS_SIG if ci is not None and ci[1] < 0 else FAILS_NOISE


def _describe(side) -> str:
    if isinstance(side, str):
        return side
    if isinstance(side, list):
        return "best of " + ", ".join(side)
    if "value" in side:
        return f"{side['value']:g}"
    text = side.get("aggregate") or f"{side.get('agg', 'max')} of {', '.join(side['runs'])}"
    text = text if side.get("factor", 1.0) == 1.0 else f"{side['factor']:g} x {text}"
    return text + (f" - {_describe(side['minus'])}" if "minus" in side else "")


def evaluate_check(chk: dict, manifest: Manifest, results: Path, aggregates: dict, cache: dict,
                   resamples: stats.PairedResamples) -> dict:
    greater = _side_spec(chk["greater"], chk.get("metric"), aggregates)
    less = _side_spec(chk["less"], chk.get("metric"), aggregates)
    note = chk.get("note") or f"{_describe(chk['greater'])} > {_describe(chk['less'])} ({chk.get('metric', '')})"
    out = {"note": note, "effect": None, "interval": None, "method": ""}
    try:
        inputs = {**_load_side_inputs(greater, results, cache), **_load_side_inputs(less, results, cache)}
    except _NotReady as e:
        return dict(out, verdict=e.state, details=e.detail)
    if inputs and all(e["samples"] is not None for e in inputs.values()):
        diff, ci, method = _bootstrap(greater, less, inputs, manifest, resamples)
    else:
        diff, ci, method = _analytic(greater, less, inputs, manifest)
    ci_text = "no interval" if ci is None else f"95% interval [{ci[0]:+.2f}, {ci[1]:+.2f}]"
    return dict(out, verdict=_check_verdict(diff, ci), effect=round(diff, 4),
                interval=None if ci is None else (round(ci[0], 4), round(ci[1], 4)), method=method,
                details=f"A - B = {diff:+.2f}, {ci_text}")


def claim_verdict(check_verdicts: list[str]) -> str:
    for state in (MISSING, FAILS_SIG, FAILS_NOISE, NOT_RUN, HOLDS_NOISE):
        if state in check_verdicts:
            return state
    return HOLDS_SIG


def evaluate_claims(manifest: Manifest, results: Path, aggregates: list[dict] | None = None) -> list[dict]:
    by_id = {a["id"]: a for a in (load_aggregates(manifest) if aggregates is None else aggregates)}
    out, cache, resamples = [], {}, stats.PairedResamples()   # each run's records are read once
    for claim in manifest.claims:
        checks = [evaluate_check(chk, manifest, Path(results), by_id, cache, resamples) for chk in claim["checks"]]
        verdicts = [c["verdict"] for c in checks]
        out.append({"claim": claim["id"], "text": claim["text"], "caveat": claim.get("caveat", ""),
                    "verdict": claim_verdict(verdicts), "checks": checks,
                    "counts": {v: verdicts.count(v) for v in (HOLDS_SIG, HOLDS_NOISE, FAILS_SIG, FAILS_NOISE,
                                                             NOT_RUN, MISSING)}})
    return out


# ------------------------------------------------------------------------------ the path ---

def evaluate(manifest: Manifest, results: Path, runs: list[Run] | None = None) -> Verdicts:
    """Every verdict for `results`. With `runs` (a selection), only the cells of those runs and
    the aggregates and claims that read one of them."""
    results = Path(results)
    cells = []
    for run in manifest.runs:
        cells += run_cells(run, load_metrics(results, run.id))
    aggregates = load_aggregates(manifest)
    cells += aggregate_cells(aggregates, manifest, results)
    mark_indistinct(cells, manifest)
    claims = evaluate_claims(manifest, results, aggregates)
    if runs is not None:
        chosen = {r.id for r in runs}
        agg_runs = {a["id"]: set(a["runs"]) for a in aggregates}
        cells = [c for c in cells if c["run"] in chosen or agg_runs.get(c["run"], set()) & chosen]
        claims = [c for c, spec in zip(claims, manifest.claims) if _claim_runs(spec, agg_runs) & chosen]
    return Verdicts(cells, claims)


def _claim_runs(claim: dict, agg_runs: dict) -> set:
    out = set()
    for chk in claim["checks"]:
        for side in (chk["greater"], chk["less"]):
            stack = [side]
            while stack:
                s = stack.pop()
                if isinstance(s, str):
                    out.add(s)
                elif isinstance(s, list):
                    out |= set(s)
                elif isinstance(s, dict):
                    out |= set(s.get("runs", [])) | agg_runs.get(s.get("aggregate"), set())
                    if "minus" in s:
                        stack.append(s["minus"])
    return out

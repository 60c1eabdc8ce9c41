"""Synthetic results for the paper manifest: per-sample records whose aggregates are the paper's numbers.

`write_paper_results(manifest, out)` writes, for every evaluation run and every train run with
a reference, what a finished run writes: `metrics.json` plus per-sample records
(`predictions.jsonl` with each test sample's EM hit rank; `apps_results.paper.jsonl` with each
APPS problem's test verdicts). EM@1, EM@10 and the APPS average test pass are computed from
those records, so they equal the paper's printed values up to one test sample (1/n);
CodeBLEU and pass@k are written as the paper prints them. Runs the paper gives no number for
(most zero-shot and every single ICL / RAG run) get values shaped as the paper describes them
(ICL peaks at n = 8 on Conala and n = 3-4 on CodeAlpacaPy and its best n averages to the
paper's best-ICL number; RAG lies between ICL and LoRA).

Which samples a run gets right: each test sample has a fixed easiness, each run adds its own
noise (seeded by the run id), and the run hits its top-ranked samples. Runs of one test set
therefore overlap heavily, as real runs do, without being nested.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

TEST_SIZE = {"conala": 543, "codealpacapy": 628}
APPS_PROBLEMS, APPS_TESTS = 250, 20
ICL_PEAK = {"conala": (8,), "codealpacapy": (3, 4)}
SEED_OFFSETS = {42: -0.6, 777: -0.3, 5432: 0.0, 55555: 0.3, 97: 0.6}


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:12], 16))


def _easiness(key: str, n: int) -> np.ndarray:
    return _rng(f"easiness/{key}").normal(size=n)


def em_ranks(run_id: str, dataset: str, em1: float, em10: float) -> list:
    n = TEST_SIZE[dataset]
    score = _easiness(dataset, n) + 0.6 * _rng(run_id).normal(size=n)
    order = list(np.argsort(-score, kind="stable"))
    c10, c1 = round(em10 * n / 100), round(min(em1, em10) * n / 100)
    ranks = [None] * n
    for pos, i in enumerate(order[:c10]):
        ranks[i] = 1 if pos < c1 else 5
    return ranks


def _write(run_dir: Path, metrics: dict, resources: dict | None = None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    if resources:
        (run_dir / "resources.json").write_text(json.dumps(resources))


def write_em_run(out: Path, run_id: str, dataset: str, em1: float, em10: float, codebleu: float) -> None:
    ranks = em_ranks(run_id, dataset, em1, em10)
    n = len(ranks)
    rows = [{"index": i, "em_rank": r} for i, r in enumerate(ranks)]
    d = Path(out) / run_id
    d.mkdir(parents=True, exist_ok=True)
    (d / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    metrics = {"samples": n, "codebleu": codebleu}
    for k in (1, 10):
        metrics[f"em@{k}"] = round(100.0 * sum(r is not None and r <= k for r in ranks) / n, 4)
    _write(d, metrics)


def write_apps_run(out: Path, run_id: str, table4: dict) -> None:
    """table4: {difficulty: {"avg", "pass@1", "pass@2", "pass@5"}} in percent."""
    d = Path(out) / run_id
    d.mkdir(parents=True, exist_ok=True)
    records, metrics = [], {}
    for diff, values in table4.items():
        score = _easiness(f"apps/{diff}", APPS_PROBLEMS) + 0.6 * _rng(f"{run_id}/{diff}").normal(size=APPS_PROBLEMS)
        total = round(values["avg"] / 100 * APPS_PROBLEMS * APPS_TESTS)
        passed = np.zeros(APPS_PROBLEMS, dtype=int)
        for i in list(np.argsort(-score, kind="stable")) * APPS_TESTS:  # fill the easiest problems first
            if total == 0:
                break
            if passed[i] < APPS_TESTS:
                passed[i] += 1
                total -= 1
        for p in range(APPS_PROBLEMS):
            results = [True] * int(passed[p]) + [False] * (APPS_TESTS - int(passed[p]))
            for sample in range(5):
                records.append({"problem_id": f"{diff}-{p}", "difficulty": diff, "sample": sample, "mode": "paper",
                                "results": results if sample == 0 else [False] * APPS_TESTS})
        metrics[f"apps/{diff}/avg"] = round(100.0 * passed.sum() / (APPS_PROBLEMS * APPS_TESTS), 4)
        for k in ("pass@1", "pass@2", "pass@5"):
            metrics[f"apps/{diff}/{k}"] = values[k]
    (d / "apps_results.paper.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    _write(d, metrics)


def _icl_shape(best: float, zero: float, n: int, dataset: str) -> float:
    """The seed mean at n: the best at the paper's peak, lower elsewhere, above zero-shot."""
    if n in ICL_PEAK[dataset]:
        return best
    return max(zero + 1.0, best - 2.0 - 0.1 * abs(n - ICL_PEAK[dataset][0]))


def write_paper_results(manifest, out: Path) -> None:
    from repro.aggregates import load_aggregates

    out = Path(out)
    refs = {a["id"]: a["reference"]["value"] for a in load_aggregates(manifest) if a.get("reference")}
    by_id = {r.id: r for r in manifest.runs}

    def em10_of(run_id, default=None):
        ref = by_id[run_id].reference.get("em@10") if run_id in by_id else None
        return ref["value"] if ref else default

    for run in manifest.runs:
        c, rid = run.config, run.id
        if run.kind == "train":
            if run.reference:
                values = {m: r["value"] for m, r in run.reference.items()}
                memory = values.pop("peak_memory_gb", None)
                _write(out / rid, values, {"peak_memory_gb": memory} if memory is not None else None)
            continue
        if c["dataset"] == "apps":
            table4 = {}
            for metric, ref in run.reference.items():
                _, diff, name = metric.split("/")
                table4.setdefault(diff, {})[name] = ref["value"]
            write_apps_run(out, rid, table4)
            continue
        model, ds, strategy = c["model"], c["dataset"], c["prompting"]["strategy"]
        zero = em10_of(f"rq1-{model}-{ds}-zero-shot", 5.0)
        lora = em10_of(f"rq2-{model}-{ds}-lora", 20.0)
        icl_best = refs.get(f"rq1-{model}-{ds}-icl-best", zero + 6.0)
        if strategy == "zero-shot" and c["tuning"]["method"] == "none":
            em10 = zero
        elif strategy == "icl":
            em10 = _icl_shape(icl_best, zero, c["prompting"]["n"], ds) + SEED_OFFSETS[c["prompting"]["seed"]]
        elif strategy == "rag":
            rag_best = refs.get(f"rq3-{model}-{ds}-rag-best", (icl_best + lora) / 2)
            em10 = rag_best if c["prompting"]["n"] == 4 else rag_best - 1.5
        else:
            em10 = em10_of(rid)
        ref = run.reference
        em1 = ref["em@1"]["value"] if "em@1" in ref else em10 / 2
        codebleu = ref["codebleu"]["value"] if "codebleu" in ref else 20.0
        write_em_run(out, rid, ds, em1, em10, codebleu)


def swap_runs(out: Path, a: str, b: str) -> None:
    """Swap two runs' result directories (a perturbed copy: one method's results under another's name)."""
    out = Path(out)
    tmp = out / f".swap-{a}"
    (out / a).rename(tmp)
    (out / b).rename(out / a)
    tmp.rename(out / b)

"""Scorers: each metric is a module with pure functions over predictions and references.

`exact_match` (EM@k), `codebleu_paper` (CodeXGLUE-compatible CodeBLEU, the paper's),
`codebleu_pypi` (the PyPI `codebleu` package), `apps` (test-pass average, pass@k).
`score_all` applies the metrics a run names and returns run-level and per-sample results.
"""
from __future__ import annotations

from importlib import import_module
from typing import Sequence

# metric name in a manifest -> (module, key prefix in metrics.json)
CODEBLEU_VARIANTS = {"codebleu": "repro.metrics.codebleu_paper", "codebleu-pypi": "repro.metrics.codebleu_pypi"}


def score_all(names: Sequence[str], candidates: list[list[str]], samples: list[dict], cfg: dict):
    from repro.metrics import exact_match

    stops = cfg["generation"].get("stop") or []
    refs = [s["code"] for s in samples]
    metrics: dict = {"samples": len(samples)}
    per_sample: list[dict] = [{} for _ in samples]
    if "em" in names:
        em, ranks = exact_match.score(candidates, refs, stops)
        metrics.update(em)
        for row, r in zip(per_sample, ranks):
            row["em_rank"] = r
    for name in names:
        if name in CODEBLEU_VARIANTS:
            scorer = import_module(CODEBLEU_VARIANTS[name])
            top1 = [c[0] if c else "" for c in candidates]
            result = scorer.corpus_codebleu(top1, refs)
            metrics[name] = round(100.0 * result["codebleu"], 4)
            for part, value in result.items():
                if part != "codebleu":
                    metrics[f"{name}/{part}"] = round(100.0 * value, 4)
    return metrics, per_sample

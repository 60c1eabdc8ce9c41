"""Statistics for claim checks: per-sample scores from run records and the paired bootstrap.

A claim check "A > B" is a statement about two sides, each an aggregate (mean, max or min,
times a factor, optionally minus another side) of run metrics. `per_sample_scores` reads
the per-sample records a finished evaluation wrote (`predictions.jsonl` for EM@k,
a task's own records, e.g. APPS's `apps_results.{paper,strict}.jsonl`, through the task's
`per_sample_scores`) into one score per test sample, keyed by the
sample's id, so that two runs on the same test set are paired sample by sample; corpus
CodeBLEU becomes one row of corpus sums per sample (`codebleu_paper.sample_statistics`),
rescored from summed rows on every resample.
`PairedResamples` resamples the test samples with replacement (the same draw for every run
of a test set, so the comparison is paired) and gives each run's metric on every resample;
`repro.verdicts` combines them into both sides of a check, and `interval` gives the 95 %
percentile interval of the difference.

Method: the paired bootstrap of Koehn, "Statistical Significance Tests for Machine
Translation Evaluation" (EMNLP 2004), with the percentile interval of Efron & Tibshirani,
"An Introduction to the Bootstrap" (1993), ch. 13. Written here because no pinned library
bootstraps a statistic built from several runs' aligned samples (scipy.stats.bootstrap
resamples one statistic of given arrays; our sides are max/mean over runs of differing
sizes). Deterministic: each test set's draw is seeded from its sample ids.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

RESAMPLES = 2000          # enough for stable 2.5 / 97.5 % percentiles (Efron & Tibshirani, ch. 19)
BOOTSTRAP_SEED = 20040725  # any fixed number: the interval must not change between runs of the report
LEVEL = 0.95


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _em_scores(run_dir: Path, k: int) -> dict | None:
    path = run_dir / "predictions.jsonl"
    if not path.exists():
        return None
    rows = _jsonl(path)
    if not rows or "em_rank" not in rows[0]:
        return None
    return {str(r["index"]): 100.0 * (r["em_rank"] is not None and r["em_rank"] <= k) for r in rows}


@dataclass
class CorpusSamples:
    """A corpus metric's per-sample statistic rows (sample id -> row) and the function that
    scores summed rows (percent), e.g. corpus CodeBLEU from n-gram and match counts."""
    rows: dict[str, list[float]]
    score: Callable


def _codebleu_samples(run_dir: Path) -> CorpusSamples | None:
    from repro.metrics.codebleu_paper import codebleu_from_totals, sample_statistics

    path = run_dir / "predictions.jsonl"
    if not path.exists():
        return None
    rows = _jsonl(path)
    if not rows or rows[0].get("reference") is None:
        return None
    stats = sample_statistics([(r["candidates"] or [""])[0] for r in rows], [r["reference"] for r in rows])
    return CorpusSamples({str(r["index"]): s for r, s in zip(rows, stats)},
                         lambda totals: 100.0 * codebleu_from_totals(totals))


def per_sample_scores(run_dir: Path, metric: str) -> dict[str, float] | CorpusSamples | None:
    """{sample id: score (percent)} whose mean is the run's `metric`, per-sample statistic rows
    for the paper's corpus CodeBLEU, or None when the metric has no per-sample form (memory,
    parameter counts, the unit-test study's corpus metrics) or no records exist."""
    run_dir = Path(run_dir)
    if metric == "codebleu":
        return _codebleu_samples(run_dir)
    if metric.startswith("em@"):
        return _em_scores(run_dir, int(metric[3:]))
    from repro.tasks import all_tasks

    for task in all_tasks().values():   # a task's own records (e.g. APPS's apps_results.*.jsonl)
        scores = task.per_sample_scores(run_dir, metric)
        if scores is not None:
            return scores
    return None


COMBINE = {"mean": lambda a: a.mean(axis=0), "max": lambda a: a.max(axis=0), "min": lambda a: a.min(axis=0)}


class PairedResamples:
    """One bootstrap draw per test set (a tuple of sample ids), shared by every run scored on
    it, so comparisons between those runs are paired; each run's resampled means are computed
    once. Draws are seeded from the test set's ids: the same results give the same intervals."""

    def __init__(self, resamples: int = RESAMPLES):
        self.resamples = resamples
        self._counts: dict[tuple, np.ndarray] = {}

    def counts(self, ids: tuple) -> np.ndarray:
        """(resamples x n) how often each sample is drawn in each resample."""
        if ids not in self._counts:
            digest = hashlib.sha256("\n".join(ids).encode()).digest()
            rng = np.random.default_rng([BOOTSTRAP_SEED, int.from_bytes(digest[:8], "big")])
            n = len(ids)
            draws = rng.integers(0, n, size=(self.resamples, n))
            self._counts[ids] = np.stack([np.bincount(row, minlength=n) for row in draws]).astype(float)
        return self._counts[ids]

    def means(self, per_sample: dict[str, float] | CorpusSamples) -> tuple[tuple, np.ndarray]:
        """The run's metric on the full set (index 0) and on every resample (1..B): a mean of
        per-sample scores, or a corpus score of summed statistic rows."""
        if isinstance(per_sample, CorpusSamples):
            ids = tuple(sorted(per_sample.rows))
            matrix = np.array([per_sample.rows[i] for i in ids])
            totals = np.vstack([matrix.sum(axis=0), self.counts(ids) @ matrix])
            return ids, per_sample.score(totals)
        ids = tuple(sorted(per_sample))
        scores = np.array([per_sample[i] for i in ids])
        # An elementwise product and sum: faster than BLAS matmul on a busy shared CPU.
        return ids, np.concatenate([[scores.mean()], (self.counts(ids) * scores).sum(axis=1) / len(ids)])


def interval(diffs: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of the bootstrap differences (index 0 is the observed value)."""
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(diffs[1:], [tail, 100 - tail])
    return float(lo), float(hi)


def se_bound(value_percent: float, n: int) -> float:
    """Upper bound of the standard error (percentage points) of a mean of n per-sample scores in
    [0, 100]: binomial for shares, Bhatia-Davis for bounded means (docs/TOLERANCES.md)."""
    p = min(max(value_percent / 100.0, 0.0), 1.0)
    return 100.0 * math.sqrt(p * (1 - p) / n) if n else 0.0

"""APPS scoring: test-pass averages, strict accuracy and pass@k over executed samples.

Input is one record per (problem, sample) as the execution harness writes it to
`apps_results.jsonl`; per test `true` passed, `false` wrong output, `-1` runtime error or
timeout, `-2` compile error (then the whole list is `[-2]`), `-3` judge error (the judge
failed, not the program; counted apart by the harness). Only `true` counts as passed,
as in the APPS reference metric (`result > 0`), so a compile error scores 0 whatever the
number of tests.

* test-pass share of a sample: passed tests / entries in `results`;
* average test pass: mean over problems of that share, reported twice: of the first sample
  (`avg_test_pass_first`, sample 0: the single-generation input from which the APPS metric
  the authors used computes its "average accuracy"; we compare it with Table 4's avg) and
  averaged over every sample of the problem (`avg_test_pass_mean`);
* strict accuracy: share of problems whose first sample passes every test;
* pass@k: the unbiased estimator of Chen et al. (2021), per problem, averaged.
All values are percentages, per difficulty and "overall" (problems pooled).
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from repro.errors import UserError

DIFFICULTIES = ("introductory", "interview", "competition")
MODES = ("paper", "strict")
RUNTIME_ERROR, COMPILE_ERROR, JUDGE_ERROR = -1, -2, -3


class PassAtKError(ValueError):
    """A k that the samples cannot support (k > n, or k < 1)."""


class AppsRecordError(ValueError):
    """A malformed APPS result record; names the record (0-based) and the field."""

    def __init__(self, message: str, *, record: int, field: str, expected: str):
        self.record, self.field, self.expected = record, field, expected
        super().__init__(f"APPS record {record}: field '{field}': {message} (expected {expected})")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of k samples drawn from n (c correct) passes.

    1 - C(n-c, k) / C(n, k), computed as 1 - prod_{i=n-c+1..n} (1 - k/i), which stays
    accurate where the binomials overflow.
    """
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, c, k)):
        raise TypeError(f"pass_at_k takes integers, got n={n!r}, c={c!r}, k={k!r}")
    if k < 1:
        raise PassAtKError(f"pass@k needs k >= 1, got k={k}")
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if k > n:
        raise PassAtKError(f"pass@{k} needs at least k={k} samples per problem, got n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def sample_pass_share(results: list) -> float:
    """Share of a sample's tests that passed (`true` only)."""
    return sum(1 for r in results if r is True) / len(results)


def passes_all(results: list) -> bool:
    return all(r is True for r in results)


def _check_results(results, record: int) -> None:
    expected = "a non-empty list of true, false, -1, -3, or the single-element list [-2]"
    if not isinstance(results, list) or not results:
        raise AppsRecordError(f"got {results!r}", record=record, field="results", expected=expected)
    for r in results:
        if not (isinstance(r, bool) or (type(r) is int and r in (RUNTIME_ERROR, COMPILE_ERROR, JUDGE_ERROR))):
            raise AppsRecordError(f"unknown test result {r!r}", record=record,
                                  field="results", expected=expected)
    if COMPILE_ERROR in [r for r in results if not isinstance(r, bool)] and len(results) != 1:
        raise AppsRecordError("a compile error (-2) must be the only entry", record=record,
                              field="results", expected=expected)


def _group_by_problem(records: list[dict]) -> tuple[dict, str]:
    """{problem_id: (difficulty, [results of sample 0, 1, ...])} and the single mode."""
    samples: dict[str, dict[int, list]] = defaultdict(dict)
    difficulty: dict[str, str] = {}
    modes = set()
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise AppsRecordError(f"got {type(rec).__name__}", record=i, field="(record)",
                                  expected="a JSON object")
        for field in ("problem_id", "difficulty", "sample", "mode", "results"):
            if field not in rec:
                raise AppsRecordError("missing", record=i, field=field, expected="present")
        pid, diff, sample, mode = rec["problem_id"], rec["difficulty"], rec["sample"], rec["mode"]
        if not isinstance(pid, str) or not pid:
            raise AppsRecordError(f"got {pid!r}", record=i, field="problem_id", expected="a non-empty string")
        if diff not in DIFFICULTIES:
            raise AppsRecordError(f"got {diff!r}", record=i, field="difficulty", expected=" | ".join(DIFFICULTIES))
        if mode not in MODES:
            raise AppsRecordError(f"got {mode!r}", record=i, field="mode", expected=" | ".join(MODES))
        if type(sample) is not int or sample < 0:
            raise AppsRecordError(f"got {sample!r}", record=i, field="sample", expected="an integer >= 0")
        _check_results(rec["results"], i)
        if difficulty.setdefault(pid, diff) != diff:
            raise AppsRecordError(f"problem {pid} is also listed as {difficulty[pid]}", record=i,
                                  field="difficulty", expected="one difficulty per problem")
        if sample in samples[pid]:
            raise AppsRecordError(f"problem {pid} sample {sample} appears twice", record=i,
                                  field="sample", expected="one record per (problem, sample)")
        samples[pid][sample] = rec["results"]
        modes.add(mode)
    if len(modes) > 1:
        raise ValueError(f"APPS records mix verdict modes {sorted(modes)}; score each mode separately")
    grouped = {}
    for pid, by_sample in samples.items():
        if sorted(by_sample) != list(range(len(by_sample))):
            raise ValueError(f"APPS problem {pid}: samples {sorted(by_sample)} are not 0..n-1")
        grouped[pid] = (difficulty[pid], [by_sample[s] for s in range(len(by_sample))])
    return grouped, (modes.pop() if modes else "")


def _summary(problems: Iterable[list[list]], ks: tuple[int, ...]) -> dict:
    problems = list(problems)
    count = len(problems)
    out = {
        "problems": count,
        "samples": sum(len(p) for p in problems),
        "avg_test_pass_first": 100.0 * sum(sample_pass_share(p[0]) for p in problems) / count,
        "avg_test_pass_mean": 100.0 * sum(
            sum(sample_pass_share(s) for s in p) / len(p) for p in problems) / count,
        "strict_accuracy": 100.0 * sum(passes_all(p[0]) for p in problems) / count,
    }
    for k in ks:
        out[f"pass@{k}"] = 100.0 * sum(
            pass_at_k(len(p), sum(passes_all(s) for s in p), k) for p in problems) / count
    return out


def score_apps(records: list[dict], ks=(1, 2, 5)) -> dict:
    """Percent scores per difficulty present and "overall", plus the verdict "mode"."""
    ks = tuple(ks)
    grouped, mode = _group_by_problem(records)
    if not grouped:
        raise ValueError("no APPS records to score")
    fewest = min(len(samples) for _, samples in grouped.values())
    for k in ks:
        if type(k) is not int or k < 1:
            raise PassAtKError(f"pass@k needs integer k >= 1, got k={k!r}")
        if k > fewest:
            pid = next(p for p, (_, s) in sorted(grouped.items()) if len(s) == fewest)
            raise PassAtKError(f"pass@{k} needs at least k={k} samples per problem, but problem "
                             f"{pid} has n={fewest}; drop k={k} or generate more samples")
    by_difficulty = defaultdict(list)
    for pid in sorted(grouped):
        diff, samples = grouped[pid]
        by_difficulty[diff].append(samples)
    scores = {d: _summary(by_difficulty[d], ks) for d in DIFFICULTIES if d in by_difficulty}
    scores["overall"] = _summary((s for _, s in (grouped[p] for p in sorted(grouped))), ks)
    scores["mode"] = mode
    return scores


def load_apps_results(path) -> list[dict]:
    """Read apps_results.jsonl; a broken line is a UserError naming the file and line."""
    path = Path(path)
    records = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise UserError(f"line {n} is not JSON ({e.msg})", file=str(path), field=f"line {n}",
                                expected="one JSON object per line",
                                fix="re-run the APPS execution stage to rewrite the file") from e
    return records


def score_apps_file(path, ks=(1, 2, 5)) -> dict:
    """score_apps on a results file; bad records become UserErrors naming file and field."""
    records = load_apps_results(path)
    try:
        return score_apps(records, ks)
    except AppsRecordError as e:
        raise UserError(str(e), file=str(path), field=f"record {e.record} '{e.field}'",
                        expected=e.expected, fix="correct or regenerate that record") from e
    except PassAtKError as e:
        raise UserError(str(e), file=str(path), field="ks", expected="every k <= samples per problem",
                        fix="score with smaller ks or generate more samples per problem") from e
    except ValueError as e:
        raise UserError(str(e), file=str(path), field="records",
                        expected="one mode, samples 0..n-1 for every problem",
                        fix="regenerate the results file with the APPS execution stage") from e


def per_problem_scores(run_dir, mode: str, difficulty: str, name: str) -> dict | None:
    """{problem id: score (percent)} whose mean over problems is the metric `name` ("avg" or
    "pass@k") of `difficulty` in verdict `mode`, from the run's apps_results.<mode>.jsonl;
    None when the run has no such file or the metric has no per-problem form."""
    path = Path(run_dir) / f"apps_results.{mode}.jsonl"
    if not path.exists() or not (name == "avg" or name.startswith("pass@")):
        return None
    grouped, _ = _group_by_problem(load_apps_results(path))
    out = {}
    for pid, (diff, samples) in grouped.items():
        if difficulty != "overall" and diff != difficulty:
            continue
        if name == "avg":
            out[pid] = 100.0 * sample_pass_share(samples[0])
        else:
            out[pid] = 100.0 * pass_at_k(len(samples), sum(passes_all(x) for x in samples), int(name[len("pass@"):]))
    return out or None

"""The APPS evaluation stage: programs into the sandbox under both verdict modes, records
saved, then scored.

Each candidate becomes a program (starter code + completion, or a reference solution as
is), runs inside the sandbox in `paper` mode (the reference harness's verdicts, what the
paper's numbers mean) and in `strict` mode, and both modes' per-test records are written
(`apps_results.{paper,strict}.jsonl`: verdicts; `apps_details.{paper,strict}.jsonl`: per-test
times and error texts) so every APPS metric can be recomputed without executing anything again.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from repro import records

from .metrics import MODES, score_apps

NAMES = {"avg_test_pass_first": "avg", "avg_test_pass_mean": "avg_mean", "strict_accuracy": "strict_accuracy"}


if TYPE_CHECKING:
    from repro.metrics import Scores


def programs(test: list[dict], candidates: list[list[str]], from_reference: bool) -> list[dict]:
    out = []
    for row, cands in zip(test, candidates):
        starter = row.get("starter_code") or ""
        for k, text in enumerate(cands):
            out.append({"problem_id": str(row["problem_id"]), "sample": k,
                        "code": text if from_reference else starter + text})
    return out


def flatten(scores: dict, prefix: str) -> dict:
    """score_apps output -> metrics.json keys like `apps/introductory/pass@1`."""
    flat = {}
    for group, values in scores.items():
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                flat[f"{prefix}/{group}/{NAMES.get(name, name)}"] = round(float(value), 4)
    return flat


def scorer(ctx) -> "Scores":
    """The `apps` metric: execute in the sandbox (both modes), keep the records, score."""
    from repro.metrics import Scores

    metrics, info = evaluate(ctx.samples, ctx.candidates, ctx.out_dir, from_reference=ctx.from_reference,
                             sandbox_backend=ctx.options.get("sandbox", "auto"),
                             allow_unsafe=ctx.options.get("allow_unsafe", False), progress=ctx.progress)
    return Scores(metrics, meta={"sandbox": info, "apps_verdict_modes": {
        "paper": "reference-harness verdicts (metrics `apps/...`)",
        "strict": "real script, token-wise contest judge (metrics `apps-strict/...`)"},
        "apps_judge": info.pop("apps_judge")})


def evaluate(test: list[dict], candidates: list[list[str]], out_dir: Path, *, from_reference: bool,
             sandbox_backend: str = "auto", allow_unsafe: bool = False, modes=MODES,
             ks=(1, 2, 5), progress: bool = True) -> tuple[dict, dict]:
    """Metrics (both modes) and sandbox info for run.json."""
    from .harness import evaluate as execute, open_apps_sandbox

    progs = programs(test, candidates, from_reference)
    problems = {str(r["problem_id"]): r for r in test}
    n_samples = min(len(c) for c in candidates) if candidates else 0
    ks = tuple(k for k in ks if k <= n_samples) if from_reference else tuple(ks)
    metrics: dict = {}
    judged: dict = {}
    with open_apps_sandbox(sandbox_backend, allow_unsafe=allow_unsafe) as sandbox:
        info = sandbox.info()
        for mode in modes:
            recs = execute(progs, problems, mode=mode, sandbox=sandbox, progress=progress)
            # Verdicts are deterministic and pinned; per-test wall times and error texts (which
            # can name the backend) are not, so they live in their own file, like resources.json.
            details = [{"problem_id": r["problem_id"], "sample": r["sample"], "times": r.pop("times", None),
                        "errors": r.pop("errors", None), "live_objects": r.pop("live_objects", 0),
                        "judge_errors": r.pop("judge_errors", 0)} for r in recs]
            judged[mode] = {"live_object_comparisons": sum(d["live_objects"] for d in details),
                            "judge_errors": sum(d["judge_errors"] for d in details)}
            records.write_jsonl(Path(out_dir) / f"apps_results.{mode}.jsonl", recs)
            records.write_jsonl(Path(out_dir) / f"apps_details.{mode}.jsonl", details)
            prefix = "apps" if mode == "paper" else "apps-strict"
            metrics.update(flatten(score_apps(recs, ks=ks), prefix))
    info["apps_judge"] = {**judged, "live_object_rule": "a returned object the typed encoding "
                          "cannot carry is compared as unequal (its own __eq__ never runs on the host)",
                          "judge_error_code": -3}
    return metrics, info

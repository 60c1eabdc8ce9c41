"""Scorers: task-independent metrics, and the lookup from a metric name to its scorer.

Metric modules hold pure functions over predictions and references: `exact_match` (EM@k),
`codebleu_paper` (CodeXGLUE-compatible CodeBLEU, the paper's), `codebleu_pypi` (the PyPI
`codebleu` package); `tuned-parameters` counts the tuned weights. A task's own scorers
(APPS execution, Java validity, JUnit, …) live in its folder and are named in its
`scorers` (repro/tasks/). A scorer is `name -> "module:function"`, the function taking a
`ScoringContext` and returning a `Scores`; scorers that execute programs get the run
directory to keep their records.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Sequence


@dataclass
class ScoringContext:
    candidates: list[list[str]]          # per sample, the candidates (cut at the stop strings)
    samples: list[dict]                  # dataset rows (with `intent` and `code`)
    cfg: dict                            # the resolved run
    out_dir: Path                        # the run's (partial) directory, for records
    options: dict = field(default_factory=dict)   # execution options (sandbox, …)
    progress: bool = True

    @property
    def references(self) -> list[str]:
        return [s["code"] for s in self.samples]

    @property
    def from_reference(self) -> bool:
        return self.cfg["generation"]["strategy"] == "reference"


@dataclass
class Scores:
    metrics: dict                                        # metrics.json entries (percent)
    per_sample: list[dict] | None = None                 # merged into predictions.jsonl rows
    meta: dict = field(default_factory=dict)             # merged into run.json


def exact_match_scorer(ctx: ScoringContext) -> Scores:
    from repro.metrics import exact_match

    em, ranks = exact_match.score(ctx.candidates, ctx.references, ctx.cfg["generation"].get("stop") or [])
    return Scores(em, [{"em_rank": r} for r in ranks])


def _codebleu(module: str, name: str, ctx: ScoringContext) -> Scores:
    scorer = import_module(module)
    top1 = [c[0] if c else "" for c in ctx.candidates]
    result = scorer.corpus_codebleu(top1, ctx.references)
    metrics = {name: round(100.0 * result["codebleu"], 4)}
    metrics.update({f"{name}/{part}": round(100.0 * v, 4) for part, v in result.items() if part != "codebleu"})
    return Scores(metrics)


def codebleu_paper_scorer(ctx: ScoringContext) -> Scores:
    return _codebleu("repro.metrics.codebleu_paper", "codebleu", ctx)


def codebleu_pypi_scorer(ctx: ScoringContext) -> Scores:
    return _codebleu("repro.metrics.codebleu_pypi", "codebleu-pypi", ctx)


def tuned_parameters_scorer(ctx: ScoringContext) -> Scores:
    """`trainable_parameters` of an evaluation: elements of the tuned weights it loaded
    (`adapter_from`'s weights/*.safetensors); 0 for a base model used as is."""
    src = ctx.cfg.get("adapter_from")
    if not src:
        return Scores({"trainable_parameters": 0})
    from safetensors import safe_open

    total = 0
    for path in sorted((Path(ctx.out_dir).parent / src / "weights").glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as fh:
            for key in fh.keys():
                total += _numel(fh.get_slice(key).get_shape())
    return Scores({"trainable_parameters": total})


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


SCORERS: dict[str, str] = {
    "em": "repro.metrics:exact_match_scorer",
    "codebleu": "repro.metrics:codebleu_paper_scorer",
    "codebleu-pypi": "repro.metrics:codebleu_pypi_scorer",
    "tuned-parameters": "repro.metrics:tuned_parameters_scorer",
}


def scorer_names() -> list[str]:
    """Every metric a manifest may list: these and those the tasks offer."""
    from repro import tasks

    return [*SCORERS, *(name for t in tasks.all_tasks().values() for name in t.scorers)]


def get_scorer(name: str):
    from repro import tasks

    path = SCORERS.get(name) or tasks.scorer_path(name)
    if path is None:
        raise KeyError(f"no scorer named {name!r}; known: {', '.join(scorer_names())}")
    module, func = path.split(":")
    return getattr(import_module(module), func)


def score_all(names: Sequence[str], ctx: ScoringContext) -> Scores:
    """Every named metric, merged: metrics, per-sample fields and run.json notes."""
    total = Scores({"samples": len(ctx.samples)}, [{} for _ in ctx.samples], {})
    for name in names:
        s = get_scorer(name)(ctx)
        total.metrics.update(s.metrics)
        total.meta.update(s.meta)
        for row, extra in zip(total.per_sample, s.per_sample or []):
            row.update(extra)
    return total

"""The Task interface: what a benchmark owns, asked by the pipeline instead of name checks.

A task is one folder under repro/tasks/ whose `__init__.py` defines `TASK`, an instance of
a `Task` subclass, and registers it with one line in repro/tasks/__init__.py (a task
outside the package calls `repro.tasks.register(TASK)`). A task owns:
- `templates`: prompt templates by name (a row -> evaluation prompt; rows -> training pairs);
- `stop_rules`: generation stop conditions by name (a transformers StoppingCriteria factory);
- `scorers`: metric names -> "module:function" (a `ScoringContext` -> `Scores`);
- `datasets`: the dataset entries (repro.registry.DatasetSpec) the task brings;
- `result_columns`: the metrics the report's all-results table shows for it;
- `select_rows(spec, split, read)`: which rows of the dataset's files make a split;
- `record_fields(row)`: the row's fields kept in predictions.jsonl;
- `reference_solutions(row, n)`: the dataset's own solutions (generation strategy `reference`);
- `per_sample_scores(run_dir, metric)`: one score per test sample of a metric it owns, read
  from its own records (claim checks pair runs sample by sample: repro/stats.py);
- the row filters a run may ask for: over-long test samples (`generation.block_size`) and
  training pairs (`tuning.over_length: drop`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True)
class Template:
    """How rows become prompts: `prompt(row, examples, system_line, example_format)` for
    evaluation, `pairs(rows)` for training (prompt, target) pairs; `takes_examples` for
    ICL/RAG (examples are (intent, code) pairs of training rows)."""
    prompt: Callable[..., str]
    pairs: Callable[[Sequence[dict]], list[dict]]
    takes_examples: bool = True


class Task:
    """The defaults suit a text-to-code task whose rows carry `intent` and `code`."""

    name = "abstract"
    templates: dict[str, Template] = {}
    stop_rules: dict[str, Callable] = {}
    scorers: dict[str, str] = {}
    metric_names: dict[str, str] = {}   # scorer -> regular expression of the metrics.json keys it writes
    datasets: tuple = ()
    result_columns: tuple[tuple[str, str], ...] = ()   # (metrics.json key, header) for the report


    def select_rows(self, spec, split: str, read) -> list[dict]:
        """The rows of `split`; `read(spec, split)` gives a split's file rows as they are."""
        return read(spec, split)

    def record_fields(self, row: dict) -> dict:
        """What predictions.jsonl keeps of the row (beside index, examples, candidates)."""
        return {"intent": row["intent"], "problem_id": row.get("problem_id"), "reference": row["code"]}

    def reference_solutions(self, row: dict, n: int) -> list[str]:
        return [row["code"]][:n]

    def per_sample_scores(self, run_dir, metric: str) -> dict | None:
        """{sample id: score (percent)} whose mean is `metric`, for a metric this task's scorers
        write and its records hold per sample; None otherwise."""
        return None

    def drop_over_block_size(self, test, prompts, chosen, tokenizer, model, block_size: int):
        """Test samples whose prompt + reference exceed the block size, dropped (not
        truncated); the resulting test-set size depends on the tokenizer and is recorded."""
        from repro.data import over_block_size
        from repro.generate import reserved_prompt_tokens

        limit = block_size - 1 - reserved_prompt_tokens(model)
        over = set(over_block_size(prompts, [s["code"] for s in test], tokenizer, limit))
        keep = [i for i in range(len(test)) if i not in over]
        meta = {"block_size": block_size, "test_samples_before_block_filter": len(test),
                "test_samples_dropped_over_block_size": len(over)}
        return [test[i] for i in keep], [prompts[i] for i in keep], [chosen[i] for i in keep], meta

    def drop_over_length(self, train_rows, val_rows, tokenizer, model, max_length: int):
        """Training pairs longer than max_length (minus prompt tuning's virtual tokens) dropped."""
        from repro.data import over_block_size
        from repro.generate import reserved_prompt_tokens

        limit = max_length - reserved_prompt_tokens(model)
        kept, counts = [], {}
        for name, rows in (("train", train_rows), ("validation", val_rows)):
            over = set(over_block_size([r["prompt"] for r in rows], [r["target"] for r in rows], tokenizer,
                                       limit, reference_special_tokens=False))
            kept.append([r for i, r in enumerate(rows) if i not in over])
            counts[f"{name}_dropped_over_length"] = len(over)
        return kept[0], kept[1], counts

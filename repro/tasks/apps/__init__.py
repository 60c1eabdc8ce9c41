"""APPS: programming problems judged by running the program on the problem's tests.

Beside this file: `prompts.py` (the prompt and training pairs), `subset.py` (the problems
the study uses), `harness.py` (host side: sandbox requests, both verdict modes, records),
`apps_child.py` (what runs inside the sandbox), `metrics.py` (test-pass averages, pass@k),
`scorer.py` (the `apps` metric: execute, keep records, score).
"""
from __future__ import annotations

from repro.tasks.base import Task, Template

from .prompts import row_prompt, solutions, training_pairs


class Apps(Task):
    name = "apps"
    templates = {"apps-codellama": Template(prompt=row_prompt, pairs=training_pairs, takes_examples=False)}
    scorers = {"apps": "repro.tasks.apps.scorer:scorer"}
    metric_names = {"apps": r"apps(-strict)?/.+"}
    # Both verdict modes side by side (docs/APPS_VERDICTS.md).
    result_columns = (("apps/overall/avg", "APPS avg (paper mode)"), ("apps-strict/overall/avg", "APPS avg (strict)"),
                      ("apps/overall/pass@1", "pass@1 (paper)"), ("apps-strict/overall/pass@1", "pass@1 (strict)"))

    def select_rows(self, spec, split: str, read) -> list[dict]:
        """The study's problems (subset.py): validation drawn from the train split, the first
        problems of each difficulty from the test split."""
        from .subset import select_test, split_train_validation

        if spec.validation_from_train and split in ("train", "validation"):
            train, validation = split_train_validation(read(spec, "train"), n_validation=spec.validation_from_train)
            return validation if split == "validation" else train
        rows = read(spec, split)
        if split == "test" and spec.test_per_difficulty:
            rows = select_test(rows, per_difficulty=spec.test_per_difficulty)
        return rows

    def record_fields(self, row: dict) -> dict:
        # The problem statement and solutions are long and in the dataset: the id suffices.
        return {"intent": None, "problem_id": row.get("problem_id"), "reference": None}

    def reference_solutions(self, row: dict, n: int) -> list[str]:
        return solutions(row)[:n]

    def per_sample_scores(self, run_dir, metric: str) -> dict | None:
        from .metrics import per_problem_scores

        parts = metric.split("/")
        if len(parts) != 3 or parts[0] not in ("apps", "apps-strict"):
            return None
        return per_problem_scores(run_dir, "paper" if parts[0] == "apps" else "strict", parts[1], parts[2])


TASK = Apps()

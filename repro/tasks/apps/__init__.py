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
    # Both verdict modes side by side (docs/APPS_VERDICTS.md).
    result_columns = (("apps/overall/avg", "APPS avg (paper mode)"), ("apps-strict/overall/avg", "APPS avg (strict)"),
                      ("apps/overall/pass@1", "pass@1 (paper)"), ("apps-strict/overall/pass@1", "pass@1 (strict)"))

    def record_fields(self, row: dict) -> dict:
        # The problem statement and solutions are long and in the dataset: the id suffices.
        return {"intent": None, "problem_id": row.get("problem_id"), "reference": None}

    def reference_solutions(self, row: dict, n: int) -> list[str]:
        return solutions(row)[:n]


TASK = Apps()

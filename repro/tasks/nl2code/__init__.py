"""Text-to-code (Conala, CodeAlpacaPy): the instruction template, zero-shot/ICL/RAG prompts,
exact match and CodeBLEU (task-independent scorers in repro/metrics/)."""
from __future__ import annotations

from repro.tasks.base import Task, Template

from .prompts import row_prompt, training_pairs


class TextToCode(Task):
    name = "nl2code"
    templates = {"instruction": Template(prompt=row_prompt, pairs=training_pairs)}
    # Both CodeBLEU variants side by side (docs/METRICS.md).
    result_columns = (("em@1", "EM@1"), ("em@10", "EM@10"), ("codebleu", "CodeBLEU (paper)"),
                      ("codebleu-pypi", "CodeBLEU (PyPI)"))


TASK = TextToCode()

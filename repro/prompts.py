"""Prompts: the three strategies (zero-shot, ICL, RAG) over a task's template.

A template (owned by a task, repro/tasks/<task>/) turns a dataset row and its examples
into an evaluation prompt, and rows into (prompt, target) training pairs; this module
chooses the examples: none, `n` training rows drawn with a seed (ICL, the same for every
test sample) or the `n` nearest by retrieval (RAG).
"""
from __future__ import annotations

import random
from typing import Sequence

from repro import tasks

def draw_icl_examples(train: Sequence[dict], n: int, seed: int) -> list[int]:
    """Indices of n training examples drawn with `seed` (the same draw for every test sample)."""
    if n > len(train):
        raise ValueError(f"cannot draw {n} examples from {len(train)} training samples")
    return sorted(random.Random(seed).sample(range(len(train)), n))


def training_pairs(rows: Sequence[dict], template: str) -> list[dict]:
    """(prompt, target) per training row, as the template writes them."""
    return tasks.template(template).pairs(rows)


def build_prompts(test: Sequence[dict], train: Sequence[dict], prompting: dict, *,
                  system_line: bool, retriever=None) -> tuple[list[str], list[list[int]]]:
    """Prompts for each test sample and the training indices used as its examples."""
    strategy, n = prompting["strategy"], prompting["n"]
    template = tasks.template(prompting.get("template", "instruction"))
    if strategy != "zero-shot" and not template.takes_examples:
        raise ValueError(f"the {prompting['template']} template takes no examples")
    if strategy == "zero-shot":
        chosen = [[] for _ in test]
    elif strategy == "icl":
        idx = draw_icl_examples(train, n, prompting["seed"])
        chosen = [idx for _ in test]
    elif strategy == "rag":
        if retriever is None:
            raise ValueError("RAG prompting needs a retriever")
        chosen = retriever.nearest([s["intent"] for s in test], n)
    else:
        raise ValueError(f"unknown prompting strategy {strategy!r}")
    fmt = prompting.get("example_format", "plain")
    prompts = [template.prompt(s, [(train[i]["intent"], train[i]["code"]) for i in ex], system_line, fmt)
               for s, ex in zip(test, chosen)]
    return prompts, chosen

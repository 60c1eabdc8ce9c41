"""Prompts: the three strategies (zero-shot, ICL, RAG) over a task's template.

A template (owned by a task, repro/tasks/<task>/) turns a dataset row and its examples
into an evaluation prompt, and rows into (prompt, target) training pairs; this module
chooses the examples: none, `n` training rows drawn with a seed (ICL, the same for every
test sample) or the `n` nearest by retrieval (RAG).
"""
from __future__ import annotations

import random
from typing import Sequence

from repro import code_versions, tasks


def draw_icl_examples(train: Sequence[dict], n: int, seed: int) -> list[int]:
    """Indices of n training examples, in the order drawn (the same draw for every test sample).

    As both versions of the authors' code drew them (pe: test.py:90, tosem: test.py:59):
    `transformers.set_seed(seed)` then `random.sample(range(len(train)), n)` on the training
    split after dropping rows with a missing intent or code (utils.py `load_conala_train_dataset`).
    `set_seed` seeds Python's `random` with `random.seed(seed)`, so `random.Random(seed)` draws
    the same indices without touching the global generator."""
    kept = [i for i, r in enumerate(train) if r.get("intent") is not None and r.get("code") is not None]
    if n > len(kept):
        raise ValueError(f"cannot draw {n} examples from {len(kept)} training samples")
    return [kept[j] for j in random.Random(seed).sample(range(len(kept)), n)]


def training_pairs(rows: Sequence[dict], template: str, code_version: str | None = None, *,
                   seq2seq: bool = False, rng: random.Random | None = None) -> list[dict]:
    """Training rows as the template writes them; a versioned template as the run's code version
    of the authors' code wrote them (repro/code_versions.py; `rng` draws APPS solutions)."""
    if code_version is not None and template in code_versions.VERSIONED_TEMPLATES:
        if template == "apps-codellama":
            return code_versions.apps_training_pairs(code_version, rows, rng or random.Random(0))
        return [code_versions.training_pair(code_version, r["intent"], r["code"], seq2seq=seq2seq) for r in rows]
    return tasks.template(template).pairs(rows)


def build_prompts(test: Sequence[dict], train: Sequence[dict], prompting: dict, *,
                  system_line: bool, retriever=None, code_version: str | None = None,
                  tuned: bool = False, seq2seq: bool = False) -> tuple[list[str], list[list[int]]]:
    """Prompts for each test sample and the training indices used as its examples. With a code
    version, a versioned template's text is that version's (`system_line` then only overrides
    the version's instruction line when the manifest sets it)."""
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
    examples = [[(train[i]["intent"], train[i]["code"]) for i in ex] for ex in chosen]
    name = prompting.get("template", "instruction")
    if code_version is not None and name in code_versions.VERSIONED_TEMPLATES:
        if name == "apps-codellama":
            return [code_versions.apps_test_prompt(s) for s in test], chosen
        return [code_versions.eval_prompt(code_version, s["intent"], ex, tuned=tuned, seq2seq=seq2seq,
                                          system_line=prompting.get("system_line"))
                for s, ex in zip(test, examples)], chosen
    fmt = prompting.get("example_format", "plain")
    return [template.prompt(s, ex, system_line, fmt) for s, ex in zip(test, examples)], chosen

"""Prompts: zero-shot, ICL (n random training examples, seeded) and RAG (n retrieved examples).

The fine-tuning template is `### Instruction:\\n{intent}\\n### Response:\\n`; zero-shot and
ICL prompts start with the instruction line below; examples use the same template.
"""
from __future__ import annotations

import random
from typing import Sequence

SYSTEM_LINE = "Generate Python code given a natural language instruction."
TEMPLATE = "### Instruction:\n{intent}\n### Response:\n"
PAPER_ICL_SEEDS = (42, 777, 5432, 55555, 97)

APPS_TEMPLATE = ("<s>[INST] Write a python code to solve the following coding problem that obeys the "
                 "constraints and passes the example test cases. The output code needs to {guide}:\n"
                 "{question}\n[/INST]\n```python\n{starter_code}")


def format_example(intent: str, code: str, example_format: str = "plain") -> str:
    if example_format == "fenced":
        return TEMPLATE.format(intent=intent) + f"```python\n{code}\n```\n\n"
    return TEMPLATE.format(intent=intent) + code + "\n\n"


def instruction_prompt(intent: str, examples: Sequence[tuple[str, str]] = (), *, system_line: bool = True,
                       example_format: str = "plain") -> str:
    head = SYSTEM_LINE + "\n" if system_line else ""
    shots = "".join(format_example(i, c, example_format) for i, c in examples)
    return head + shots + TEMPLATE.format(intent=intent)


def draw_icl_examples(train: Sequence[dict], n: int, seed: int) -> list[int]:
    """Indices of n training examples drawn with `seed` (the same draw for every test sample)."""
    if n > len(train):
        raise ValueError(f"cannot draw {n} examples from {len(train)} training samples")
    return sorted(random.Random(seed).sample(range(len(train)), n))


def apps_prompt(question: str, starter_code: str, fn_name: str | None) -> str:
    guide = "use the provided function signature" if fn_name else "read from and write to standard IO"
    return APPS_TEMPLATE.format(guide=guide, question=question, starter_code=starter_code or "")


def build_prompts(test: Sequence[dict], train: Sequence[dict], prompting: dict, *,
                  system_line: bool, retriever=None) -> tuple[list[str], list[list[int]]]:
    """Prompts for each test sample and the training indices used as its examples."""
    strategy, n = prompting["strategy"], prompting["n"]
    fmt = prompting.get("example_format", "plain")
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
    prompts = [instruction_prompt(s["intent"], [(train[i]["intent"], train[i]["code"]) for i in ex],
                                  system_line=system_line, example_format=fmt)
               for s, ex in zip(test, chosen)]
    return prompts, chosen

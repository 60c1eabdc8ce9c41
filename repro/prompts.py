"""Prompts: a registry of templates, and the three strategies (zero-shot, ICL, RAG).

A template turns dataset rows into evaluation prompts and into (prompt, target) training
pairs. `instruction` is the paper's: `### Instruction:\\n{intent}\\n### Response:\\n`,
zero-shot and ICL prompts start with the instruction line below, examples use the same
template. `apps-codellama` is the CodeLlama Appendix-F prompt for APPS; `completion` is
the input text as is (the unit-test study). A new study adds
a template to `TEMPLATES`.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Callable, Sequence

from repro import code_versions

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


def apps_prompt(question: str, starter_code: str, fn_name: str | None) -> str:
    guide = "use the provided function signature" if fn_name else "read from and write to standard IO"
    return APPS_TEMPLATE.format(guide=guide, question=question, starter_code=starter_code or "")


def apps_fn_name(row: dict) -> str | None:
    io = row.get("input_output") or "{}"
    try:
        return (json.loads(io) if isinstance(io, str) else io).get("fn_name")
    except ValueError:
        return None


def apps_row_prompt(row: dict) -> str:
    return apps_prompt(row["question"], row.get("starter_code") or "", apps_fn_name(row))


def _apps_pairs(rows: Sequence[dict]) -> list[dict]:
    out = []
    for r in rows:
        solutions = json.loads(r["solutions"]) if isinstance(r["solutions"], str) else r["solutions"]
        if solutions:
            out.append({"prompt": apps_row_prompt(r), "target": solutions[0].rstrip() + "\n```"})
    return out


@dataclass(frozen=True)
class Template:
    """How rows become prompts. `prompt(row, examples, system_line, example_format)`;
    `pairs(rows)` gives training (prompt, target) pairs; `takes_examples` for ICL/RAG."""
    prompt: Callable[..., str]
    pairs: Callable[[Sequence[dict]], list[dict]]
    takes_examples: bool = True


TEMPLATES: dict[str, Template] = {
    "instruction": Template(
        prompt=lambda row, examples, system_line, example_format: instruction_prompt(
            row["intent"], examples, system_line=system_line, example_format=example_format),
        pairs=lambda rows: [{"prompt": TEMPLATE.format(intent=r["intent"]), "target": r["code"]} for r in rows]),
    "apps-codellama": Template(
        prompt=lambda row, examples, system_line, example_format: apps_row_prompt(row),
        pairs=_apps_pairs, takes_examples=False),
    # Plain causal completion, no instruction text (the unit-test study): the dataset's input
    # field is the prompt as is (a focal class and an open test method; a Java class up to
    # an open method), its reference field the target.
    "completion": Template(
        prompt=lambda row, examples, system_line, example_format: row["intent"],
        pairs=lambda rows: [{"prompt": r["intent"], "target": r["code"]} for r in rows],
        takes_examples=False),
}


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise ValueError(f"unknown prompt template {name!r}; known: {', '.join(TEMPLATES)}") from None


def training_pairs(rows: Sequence[dict], template: str, code_version: str | None = None, *,
                   seq2seq: bool = False, rng: random.Random | None = None) -> list[dict]:
    """Training rows as the template writes them; a versioned template as the run's code version
    of the authors' code wrote them (repro/code_versions.py; `rng` draws APPS solutions)."""
    if code_version is not None and template in code_versions.VERSIONED_TEMPLATES:
        if template == "apps-codellama":
            return code_versions.apps_training_pairs(code_version, rows, rng or random.Random(0))
        return [code_versions.training_pair(code_version, r["intent"], r["code"], seq2seq=seq2seq) for r in rows]
    return get_template(template).pairs(rows)


def build_prompts(test: Sequence[dict], train: Sequence[dict], prompting: dict, *,
                  system_line: bool, retriever=None, code_version: str | None = None,
                  tuned: bool = False, seq2seq: bool = False) -> tuple[list[str], list[list[int]]]:
    """Prompts for each test sample and the training indices used as its examples. With a code
    version, a versioned template's text is that version's (`system_line` then only overrides
    the version's instruction line when the manifest sets it)."""
    strategy, n = prompting["strategy"], prompting["n"]
    template = get_template(prompting.get("template", "instruction"))
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

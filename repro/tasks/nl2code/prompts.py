"""The paper's instruction template for Conala and CodeAlpacaPy, with ICL/RAG examples.

`### Instruction:\\n{intent}\\n### Response:\\n`; zero-shot and ICL prompts start with the
instruction line `SYSTEM_LINE`; examples use the same template, `plain` (code as is) or
`fenced` (in a ```python block).
"""
from __future__ import annotations

from typing import Sequence

SYSTEM_LINE = "Generate Python code given a natural language instruction."
TEMPLATE = "### Instruction:\n{intent}\n### Response:\n"


def format_example(intent: str, code: str, example_format: str = "plain") -> str:
    if example_format == "fenced":
        return TEMPLATE.format(intent=intent) + f"```python\n{code}\n```\n\n"
    return TEMPLATE.format(intent=intent) + code + "\n\n"


def instruction_prompt(intent: str, examples: Sequence[tuple[str, str]] = (), *, system_line: bool = True,
                       example_format: str = "plain") -> str:
    head = SYSTEM_LINE + "\n" if system_line else ""
    shots = "".join(format_example(i, c, example_format) for i, c in examples)
    return head + shots + TEMPLATE.format(intent=intent)


def row_prompt(row: dict, examples, system_line: bool, example_format: str) -> str:
    return instruction_prompt(row["intent"], examples, system_line=system_line, example_format=example_format)


def training_pairs(rows: Sequence[dict]) -> list[dict]:
    return [{"prompt": TEMPLATE.format(intent=r["intent"]), "target": r["code"]} for r in rows]

"""The APPS prompt (CodeLlama's Appendix-F prompt) and its training pairs."""
from __future__ import annotations

import json
from typing import Sequence

APPS_TEMPLATE = ("<s>[INST] Write a python code to solve the following coding problem that obeys the "
                 "constraints and passes the example test cases. The output code needs to {guide}:\n"
                 "{question}\n[/INST]\n```python\n{starter_code}")


def apps_prompt(question: str, starter_code: str, fn_name: str | None) -> str:
    guide = "use the provided function signature" if fn_name else "read from and write to standard IO"
    return APPS_TEMPLATE.format(guide=guide, question=question, starter_code=starter_code or "")


def apps_fn_name(row: dict) -> str | None:
    io = row.get("input_output") or "{}"
    try:
        return (json.loads(io) if isinstance(io, str) else io).get("fn_name")
    except ValueError:
        return None


def row_prompt(row: dict, examples=(), system_line: bool = False, example_format: str = "plain") -> str:
    return apps_prompt(row["question"], row.get("starter_code") or "", apps_fn_name(row))


def solutions(row: dict) -> list[str]:
    """The row's reference solutions (APPS stores them as a JSON list)."""
    sols = row["code"]
    if isinstance(sols, str):
        sols = json.loads(sols) if sols.lstrip().startswith("[") else [sols]
    return list(sols)


def training_pairs(rows: Sequence[dict]) -> list[dict]:
    out = []
    for r in rows:
        sols = json.loads(r["solutions"]) if isinstance(r["solutions"], str) else r["solutions"]
        if sols:
            out.append({"prompt": row_prompt(r), "target": sols[0].rstrip() + "\n```"})
    return out

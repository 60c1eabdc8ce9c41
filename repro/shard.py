"""Sharding: split a manifest's runs deterministically so any scheduler can run the pieces.

Runs are grouped so that every evaluation travels with the train run whose weights it uses;
groups are dealt round-robin in manifest order. Shard `i/n` is 0-based (SLURM
`$SLURM_ARRAY_TASK_ID`, Kubernetes `$JOB_COMPLETION_INDEX`).
"""
from __future__ import annotations

from repro.errors import UserError
from repro.manifest import Run


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UserError(f"bad shard '{text}'", field="--shard", expected="i/n with 0 <= i < n, e.g. 0/4",
                        fix="pass --shard 0/4 for the first of four shards")
    if n < 1 or not 0 <= i < n:
        raise UserError(f"bad shard '{text}'", field="--shard", expected="0 <= i < n", fix="e.g. --shard 3/4")
    return i, n


def groups(runs: list[Run]) -> list[list[Run]]:
    by_train: dict[str, list[Run]] = {}
    out: list[list[Run]] = []
    for r in runs:
        key = r.id if r.kind == "train" else r.config.get("adapter_from")
        if key is None:
            out.append([r])
        elif key in by_train:
            by_train[key].append(r)
        else:
            by_train[key] = [r]
            out.append(by_train[key])
    return out


def select_shard(runs: list[Run], i: int, n: int) -> list[Run]:
    mine = [g for k, g in enumerate(groups(runs)) if k % n == i]
    return execution_order([r for g in mine for r in g])


def execution_order(runs: list[Run]) -> list[Run]:
    """Train runs before the evaluations that need them; manifest order otherwise."""
    return [r for r in runs if r.kind == "train"] + [r for r in runs if r.kind != "train"]

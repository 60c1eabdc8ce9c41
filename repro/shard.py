"""Sharding: split a manifest's runs deterministically so any scheduler can run the pieces.

Runs are grouped so that every evaluation travels with the train run whose weights it uses;
groups are dealt by cost, largest first, each to the shard with the least estimated work so far
(`repro plan`'s GPU-hours), so that the shards of an array end together. Shard `i/n` is 0-based
(SLURM `$SLURM_ARRAY_TASK_ID`, Kubernetes `$JOB_COMPLETION_INDEX`); every task computes the same
partition from the manifest alone.
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


def run_hours(run: Run) -> float:
    """The run's estimated GPU-hours by `repro plan` (its fit and constants for a 24 GB GPU, never a
    calibration file: every task of an array, on whatever machine, must compute the same
    partition); NaN when the plan has no figures for it (e.g. a user's own task)."""
    import math

    from repro import plan

    try:
        return plan.estimate(run, 24.0).gpu_hours
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return math.nan


def group_costs(run_groups: list[list[Run]]) -> list[float]:
    """Each group's estimated GPU-hours; a group the plan cannot cost counts as the mean of the others."""
    import math

    costs = [sum(run_hours(r) for r in g) for g in run_groups]
    known = [c for c in costs if math.isfinite(c)]
    fallback = sum(known) / len(known) if known else 1.0
    return [c if math.isfinite(c) else fallback for c in costs]


def assign_groups(costs: list[float], n: int) -> list[int]:
    """The shard of each group: the costliest group first, each to the shard with the least work so
    far (the longest-processing-time rule; ties go to the shard with fewer groups, then the lower
    index, so no shard is left empty while another holds two groups)."""
    load, count = [0.0] * n, [0] * n
    shard_of = [0] * len(costs)
    for k in sorted(range(len(costs)), key=lambda k: (-costs[k], k)):
        target = min(range(n), key=lambda j: (load[j], count[j], j))
        shard_of[k] = target
        load[target] += costs[k]
        count[target] += 1
    return shard_of


def partition(runs: list[Run], n: int) -> list[list[Run]]:
    """All `n` shards at once (the plan costs every run once): each one's groups in manifest order,
    train runs first."""
    run_groups = groups(runs)
    shard_of = assign_groups(group_costs(run_groups), n)
    return [execution_order([r for k, g in enumerate(run_groups) if shard_of[k] == i for r in g])
            for i in range(n)]


def select_shard(runs: list[Run], i: int, n: int) -> list[Run]:
    """Shard `i` of `n` (what one array task runs)."""
    return partition(runs, n)[i]


def execution_order(runs: list[Run]) -> list[Run]:
    """Train runs before the evaluations that need them; manifest order otherwise."""
    return [r for r in runs if r.kind == "train"] + [r for r in runs if r.kind != "train"]

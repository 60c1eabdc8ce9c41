"""The APPS problems the study uses, computed from the split rows and recorded with checksums.

Rule (PROTOCOL.md, from the authors' TOSEM-revision code): the train split is shuffled
with seed 42 and its first 500 problems are the validation set, the other 4,500 the
training set; the test problems are the first 250 of each difficulty (introductory,
interview, competition) in the test split's order. The shuffle is `datasets`'
`Dataset.shuffle(seed=42)`, i.e. `numpy.random.default_rng(42).permutation(n)`
(tests/test_lock.py checks the two agree). `checksums/apps-test-subset.json` records
the ids and their sha256; offline it holds the rule and nulls.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from repro import records

from .metrics import DIFFICULTIES

SUBSET_PATH = Path(__file__).resolve().parents[3] / "checksums" / "apps-test-subset.json"
PER_DIFFICULTY = 250
VALIDATION_SIZE = 500
SHUFFLE_SEED = 42
RULE = ("train: shuffle the train split with numpy.random.default_rng(42).permutation (datasets' "
        "Dataset.shuffle(seed=42)); the first 500 problems are validation, the other 4500 train. "
        "test: the first 250 problems of each difficulty (introductory, interview, competition) in the "
        "test split's order, kept in that order.")


def split_train_validation(rows: list[dict], seed: int = SHUFFLE_SEED,
                           n_validation: int = VALIDATION_SIZE) -> tuple[list[dict], list[dict]]:
    if len(rows) <= n_validation:
        raise ValueError(f"the train split has {len(rows)} rows; {n_validation} are needed for validation alone")
    order = np.random.default_rng(seed).permutation(len(rows))
    shuffled = [rows[int(i)] for i in order]
    return shuffled[n_validation:], shuffled[:n_validation]


def select_test(rows: list[dict], per_difficulty: int = PER_DIFFICULTY) -> list[dict]:
    taken = {d: 0 for d in DIFFICULTIES}
    out = []
    for row in rows:
        d = row["difficulty"]
        if d in taken and taken[d] < per_difficulty:
            taken[d] += 1
            out.append(row)
    short = {d: n for d, n in taken.items() if n < per_difficulty}
    if short:
        raise ValueError(f"the test split has fewer than {per_difficulty} problems of difficulty {short}")
    return out


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def _ids(rows: list[dict]) -> list:
    return [r["problem_id"] for r in rows]


def subset_record(train_rows: list[dict], test_rows: list[dict], revision: str | None) -> dict:
    """What the study uses, with the sha256 of the id lists and of the selected rows' content."""
    train, validation = split_train_validation(train_rows)
    test = select_test(test_rows)
    return {"rule": RULE, "dataset": "codeparrot/apps", "revision": revision,
            "test_problem_ids": _ids(test), "test_ids_sha256": _sha(_ids(test)), "test_rows_sha256": _sha(test),
            "validation_problem_ids": _ids(validation), "validation_ids_sha256": _sha(_ids(validation)),
            "train_ids_sha256": _sha(_ids(train)),
            "counts": {"train": len(train), "validation": len(validation),
                       **{f"test/{d}": sum(r["difficulty"] == d for r in test) for d in DIFFICULTIES}}}


def write_record(record: dict, path: Path = SUBSET_PATH) -> Path:
    return records.write_json(path, record)

"""Expected-output checksums: the committed file that pins a run's deterministic outputs.

Every file of a run directory is pinned except `run.json`, `resources.json` and
`apps_details.*.jsonl`, `java_details.jsonl` (wall times, captured output, error texts, peak memory and provenance vary between machines and
runs) and `SHA256SUMS`, which
`repro verify` checks against the files themselves.
"""
from __future__ import annotations

from pathlib import Path

from repro import records

VARIABLE_FILES = {"run.json", "resources.json", "apps_details.paper.jsonl", "apps_details.strict.jsonl",
                  "java_details.jsonl", records.SUMS_NAME}


def deterministic_outputs(results: Path, run_ids: list[str]) -> dict[str, str]:
    entries = {}
    for rid in run_ids:
        d = Path(results) / rid
        if not d.is_dir():
            continue
        sums = d / records.SUMS_NAME  # a file the run did not list is not part of its result
        listed = set(records.parse_sums(sums.read_text(), str(sums))) if sums.is_file() else None
        for rel in records.list_files(d):
            if rel.name not in VARIABLE_FILES and (listed is None or str(rel) in listed):
                entries[f"{rid}/{rel}"] = records.sha256_file(d / rel)
    return entries


def write_expected(results: Path, run_ids: list[str], path: Path) -> Path:
    header = "# sha256 of the smoke run's deterministic outputs (see repro/verify.py for what is excluded)\n"
    return records.write_atomic(path, header + records.format_sums(deterministic_outputs(results, run_ids)))


def check_expected(results: Path, run_ids: list[str], path: Path) -> list[str]:
    if not path.exists():
        return [f"{path}: missing (create it with --update-checksums {path})"]
    expected = records.parse_sums(path.read_text(), str(path))
    expected = {k: v for k, v in expected.items() if k.split("/", 1)[0] in set(run_ids)}
    actual = deterministic_outputs(results, run_ids)
    problems = []
    for name, digest in sorted(expected.items()):
        if name not in actual:
            problems.append(f"{Path(results) / name}: missing")
        elif actual[name] != digest:
            problems.append(f"{Path(results) / name}: differs from {path}")
    for name in sorted(set(actual) - set(expected)):
        problems.append(f"{Path(results) / name}: not listed in {path}")
    return problems

"""Dataset loading: bundled files or hub data files at a pinned revision, one interface.

`load_split(key, split)` returns rows with the dataset's own fields plus `intent` and
`code` (the registry names which fields those are). Hub datasets are read from their data
files (`hf_hub_download` at the pinned revision) rather than loading scripts, which recent
`datasets` releases no longer run.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from repro.errors import UserError
from repro.registry import DATASETS, DatasetSpec


def bundled_path(spec: DatasetSpec, split: str) -> Path:
    """A bundled split: under repro/bundled/, or under the absolute directory a task outside
    the package gives."""
    name = f"{spec.splits[split]}.jsonl"
    if Path(spec.bundled_dir).is_absolute():
        return Path(spec.bundled_dir) / name
    return Path(str(resources.files("repro").joinpath(f"bundled/{spec.bundled_dir}/{name}")))


def _read_records(path: Path, fmt: str) -> list[dict]:
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    if fmt == "json":
        text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
            return data if isinstance(data, list) else data.get("data", [data])
        except json.JSONDecodeError:  # JSON lines with a .json name
            return [json.loads(line) for line in text.splitlines() if line.strip()]
    if fmt == "jsonl.gz":
        import gzip

        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    raise ValueError(f"unknown data file format {fmt!r}")


def hub_files(spec: DatasetSpec, split: str) -> list[Path]:
    """Download (or find in the local cache) the data files of a split at the pinned revision."""
    import fnmatch

    from huggingface_hub import hf_hub_download, list_repo_files

    from repro.lock import unpinned_allowed

    if spec.revision is None and not unpinned_allowed():
        raise UserError(f"dataset '{spec.key}' has no pinned revision", field="revision",
                        file="checksums/inputs.lock.json",
                        fix="run `python -m repro lock` on a networked machine, or pass --allow-unpinned")
    pattern = spec.hub_files[split]
    if any(ch in pattern for ch in "*?["):
        names = [f for f in list_repo_files(spec.hub_id, repo_type="dataset", revision=spec.revision)
                 if fnmatch.fnmatchcase(f, pattern)]
    else:
        names = [pattern]
    return [Path(hf_hub_download(spec.hub_id, name, repo_type="dataset", revision=spec.revision))
            for name in sorted(names)]


def load_split(key: str, split: str) -> list[dict]:
    """The split's rows, as the dataset's task selects them from its files (e.g. APPS's
    validation problems drawn from the train split)."""
    from repro import tasks

    spec = DATASETS[key]
    return tasks.get(spec.task).select_rows(spec, split, _load_file_split)


def _load_file_split(spec: DatasetSpec, split: str) -> list[dict]:
    key = spec.key
    if split not in spec.splits:
        raise UserError(f"dataset '{key}' has no split '{split}'", field="eval_split",
                        expected=", ".join(spec.splits), fix="choose one of the dataset's splits")
    if spec.bundled_dir:
        from repro.pins import check_files

        path = bundled_path(spec, split)
        check_files(path.parent, spec.bundled_dir, "data.sha256", "bundled data",
                    fix="restore it with `git checkout repro/bundled`, or re-pin with `make checksums` "
                        "if the change is intended")
        rows = _read_records(path, "jsonl")
    else:
        rows = []
        for path in hub_files(spec, split):
            rows += _read_records(path, spec.file_format)
    for i, r in enumerate(rows):
        r.setdefault("intent", r.get(spec.intent_field))
        r.setdefault("code", r.get(spec.code_field))
        r.setdefault("_index", i)
    return rows


def over_block_size(prompts: list[str], references: list[str], tokenizer, limit: int, *,
                    reference_special_tokens: bool = True) -> list[int]:
    """Indices of the samples whose prompt + reference take more than `limit` tokens.

    The unit-test study drops such samples instead of truncating them, so the test set
    depends on the tokenizer (methods2test_small: 1,002 rows for StarCoder, 984 for CodeGen,
    983 for CodeLlama). Evaluation counts the reference as tokenized on its own (special
    tokens included) against block size - 1; training counts prompt + target as fed to the
    model against the block size.
    """
    over = []
    for i, (prompt, reference) in enumerate(zip(prompts, references)):
        n = len(tokenizer(prompt)["input_ids"])
        n += len(tokenizer(reference, add_special_tokens=reference_special_tokens)["input_ids"])
        if n > limit:
            over.append(i)
    return over

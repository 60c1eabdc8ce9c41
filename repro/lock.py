"""Pinned inputs: `python -m repro lock` resolves every hub model and dataset to a revision
and the sha256 of each file used, into `checksums/inputs.lock.json`.

The command line applies the pinned revisions before any command (`repro.registry.apply_input_lock`).
`reproduce` and `run` refuse inputs that are still unpinned unless `--allow-unpinned`,
which sets `REPRO_ALLOW_UNPINNED=1` for the loaders (`unpinned_allowed()`).
Resolution uses `huggingface_hub.HfApi.model_info` / `dataset_info` with
`files_metadata=True`: LFS files carry their sha256; small git files are downloaded at the
resolved revision and hashed.
"""
from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Callable

from repro import records
from repro.errors import UserError
from repro.registry import DATASETS, MODELS

LOCK_PATH = Path(__file__).resolve().parent.parent / "checksums" / "inputs.lock.json"
ALLOW_ENV = "REPRO_ALLOW_UNPINNED"
# Hub models outside the model registry: the RAG retriever.
RETRIEVERS = {"gte-small": "thenlper/gte-small"}
# Files a model load reads: configuration, tokenizer, remote code, weights.
MODEL_FILE_PATTERNS = ("*.json", "*.model", "*.txt", "*.py", "*.tiktoken", "*.safetensors")
MODEL_FALLBACK_WEIGHTS = ("*.bin",)  # only when the repository has no safetensors


def unpinned_allowed() -> bool:
    return os.environ.get(ALLOW_ENV) == "1"


def hub_inputs() -> dict[str, dict[str, str]]:
    """section -> {key: hub id} for every input the lock covers."""
    return {"models": {k: m.hub_id for k, m in MODELS.items() if m.hub_id},
            "retrievers": dict(RETRIEVERS),
            "datasets": {k: d.hub_id for k, d in DATASETS.items() if d.hub_id}}


def empty_lock() -> dict:
    return {"lock_version": 1, "generated_by": "python -m repro lock",
            **{section: {k: {"hub_id": hub, "revision": None, "files": None} for k, hub in entries.items()}
               for section, entries in hub_inputs().items()}}


def model_files_used(names: list[str]) -> list[str]:
    chosen = [n for n in names if "/" not in n and any(fnmatch.fnmatchcase(n, p) for p in MODEL_FILE_PATTERNS)]
    if not any(n.endswith(".safetensors") for n in chosen):
        chosen += [n for n in names if "/" not in n and any(fnmatch.fnmatchcase(n, p) for p in MODEL_FALLBACK_WEIGHTS)]
    return sorted(chosen)


def dataset_files_used(key: str, names: list[str]) -> list[str]:
    patterns = DATASETS[key].hub_files.values()
    return sorted(n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns))


def _hub_download_sha256(repo_id: str, filename: str, revision: str, repo_type: str) -> str:
    from huggingface_hub import hf_hub_download

    return records.sha256_file(hf_hub_download(repo_id, filename, revision=revision, repo_type=repo_type))


def resolve_entry(api, section: str, key: str, hub_id: str,
                  download_sha256: Callable[[str, str, str, str], str] = _hub_download_sha256) -> dict:
    repo_type = "dataset" if section == "datasets" else "model"
    info = (api.dataset_info if repo_type == "dataset" else api.model_info)(hub_id, files_metadata=True)
    siblings = {s.rfilename: s for s in info.siblings or []}
    used = dataset_files_used(key, list(siblings)) if repo_type == "dataset" else model_files_used(list(siblings))
    if not used:
        raise UserError(f"{hub_id} at {info.sha} has none of the files the package reads", file=str(LOCK_PATH),
                        field=f"{section}.{key}", fix="check the registry's hub id and file patterns")
    files = {}
    for name in used:
        lfs = siblings[name].lfs
        files[name] = lfs["sha256"] if lfs else download_sha256(hub_id, name, info.sha, repo_type)
    return {"hub_id": hub_id, "revision": info.sha, "files": files}


def resolve_lock(api=None, keys: set[str] | None = None, existing: dict | None = None,
                 download_sha256=_hub_download_sha256) -> dict:
    """Resolve the selected keys (all by default); others keep their entry from `existing`."""
    if api is None:
        if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
            raise UserError("cannot resolve revisions with HF_HUB_OFFLINE set", field="HF_HUB_OFFLINE",
                            fix="unset HF_HUB_OFFLINE and run `python -m repro lock` on a machine that reaches the hub")
        from huggingface_hub import HfApi

        api = HfApi()
    lock = empty_lock()
    for section, entries in hub_inputs().items():
        for key, hub in entries.items():
            old = (existing or {}).get(section, {}).get(key)
            if keys and key not in keys:
                if old:
                    lock[section][key] = old
                continue
            try:
                lock[section][key] = resolve_entry(api, section, key, hub, download_sha256)
            except UserError:
                raise
            except Exception as e:  # network, offline mode, gated or missing repository
                raise UserError(f"cannot resolve {hub} ({type(e).__name__}: {e})", file=str(LOCK_PATH),
                                field=f"{section}.{key}",
                                fix="run `python -m repro lock` on a machine that reaches the Hugging Face hub "
                                    "(log in with `hf auth login` for gated models)") from None
    return lock


def read_lock(path: Path = LOCK_PATH) -> dict:
    import json

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return empty_lock()
    except json.JSONDecodeError as e:
        raise UserError(f"not valid JSON: {e}", file=str(path), fix="restore it with git or re-run `python -m repro lock`")


def unpinned(runs) -> list[str]:
    """Hub models and datasets the runs need that have no pinned revision."""
    out = []
    for run in runs:
        cfg = run.config
        model, data = MODELS[cfg["model"]], DATASETS[cfg["dataset"]]
        if model.hub_id and model.revision is None:
            out.append(f"model {model.key} ({model.hub_id})")
        if data.hub_id and data.revision is None:
            out.append(f"dataset {data.key} ({data.hub_id})")
    return sorted(set(out))


def refuse_unpinned(args, runs) -> None:
    """Stop unless every hub input of `runs` is pinned, or `--allow-unpinned` was given."""
    if getattr(args, "allow_unpinned", False):
        os.environ[ALLOW_ENV] = "1"
        return
    missing = unpinned(runs)
    if missing:
        raise UserError(f"unpinned inputs: {', '.join(missing)}", file=str(LOCK_PATH), field="revision",
                        fix="run `python -m repro lock` on a networked machine and commit the lock file, "
                            "or pass --allow-unpinned (results then name no revision)")


def cmd_lock(args) -> int:
    from repro.tasks.apps import subset as apps_subset

    path = Path(args.out)
    existing = read_lock(path)
    keys = {k.strip() for k in args.only.split(",")} if args.only else None
    lock = resolve_lock(keys=keys, existing=existing)
    records.write_json(path, lock)
    print(f"wrote {path}")
    if args.apps_subset:
        from repro.registry import apply_input_lock

        apply_input_lock(path)
        from repro.data import load_split

        spec = DATASETS["apps"]
        record = apps_subset.subset_record(load_split("apps", "train"), load_split("apps", "test"), spec.revision)
        print(f"wrote {apps_subset.write_record(record)}")
    return 0


def register(subparsers) -> None:
    sp = subparsers.add_parser("lock", help="pin every hub model and dataset (revision + sha256 per file)")
    sp.add_argument("--out", default=str(LOCK_PATH), help=f"lock file (default {LOCK_PATH})")
    sp.add_argument("--only", help="comma-separated registry keys to resolve (others are kept)")
    sp.add_argument("--apps-subset", action="store_true",
                    help="also compute the APPS test/validation subset into checksums/apps-test-subset.json")
    sp.set_defaults(func=cmd_lock)

"""Whether a finished run is still current: its identity beyond its configuration.

A run's identity (stored in run.json under `freshness`) is its configuration hash plus
- `code`: the package version and a hash of the stage modules that make this kind of run
  (`STAGE_FILES`), so editing the generation or scoring code makes evaluations stale;
- `inputs`: the digest of every input the package itself produced that the run consumed —
  its train run's SHA256SUMS (an evaluation of retrained weights is stale), the cached
  RAG embeddings, and the pinned digests of the base model and dataset.
`stale_reason(run, run_dir, out_root)` says why a finished run is stale (None: current).
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from repro import __version__, records

PACKAGE_DIR = Path(__file__).resolve().parent
_COMMON = ["pipeline.py", "data.py", "registry.py", "modeling.py", "prompts.py", "tiny_models.py",
           "tuning/*.py", "tasks/**/*.py", "tasks/**/*.yaml"]
# Modules whose code decides the outputs of a run of each kind (globs under repro/).
STAGE_FILES = {
    "train": _COMMON + ["train.py"],
    "evaluate": _COMMON + ["generate.py", "retrieval.py", "metrics/**/*.py", "apps_run.py", "apps_exec.py",
                           "apps_subset.py", "java_exec.py", "sandbox/**/*.py"],
}


@lru_cache(maxsize=None)
def code_fingerprint(kind: str, package_dir: Path = PACKAGE_DIR) -> str:
    """`<version>+<sha256 prefix>` over the stage modules' paths and bytes."""
    files = sorted({p for pattern in STAGE_FILES[kind] for p in package_dir.glob(pattern) if p.is_file()})
    h = hashlib.sha256()
    for p in files:
        h.update(str(p.relative_to(package_dir)).encode() + b"\0" + p.read_bytes() + b"\0")
    return f"{__version__}+{h.hexdigest()[:16]}"


def train_weights_digest(out_root: Path, train_run_id: str) -> str | None:
    sums = Path(out_root) / train_run_id / records.SUMS_NAME
    return records.sha256_file(sums) if sums.is_file() else None


def identity(run, out_root: Path, pinned_inputs: dict, embeddings: dict | None = None) -> dict:
    """What run.json records under `freshness` when the run is made."""
    inputs = {"pins": hashlib.sha256(records.dumps_json(pinned_inputs).encode()).hexdigest()}
    src = run.config.get("adapter_from")
    if src:
        inputs[f"{src}/{records.SUMS_NAME}"] = train_weights_digest(out_root, src)
    if embeddings:
        inputs["embeddings"] = embeddings
    return {"code": code_fingerprint(run.kind), "inputs": inputs}


def embeddings_now(info: dict) -> str | None:
    """The current array digest of a cached embeddings file recorded as `info`, None if gone."""
    meta = Path(info.get("cache", "")).with_suffix(".json")
    try:
        return json.loads(meta.read_text())["array_sha256"]
    except (OSError, ValueError, KeyError):
        return None


def stale_reason(run, recorded: dict | None, out_root: Path, pinned_inputs: dict) -> str | None:
    """Why the recorded identity no longer matches (None: the run is current)."""
    if not recorded:
        return "made before results recorded their code and inputs"
    now = identity(run, out_root, pinned_inputs)
    if recorded.get("code") != now["code"]:
        return f"the {run.kind} code changed ({recorded.get('code')} -> {now['code']})"
    old_inputs = recorded.get("inputs", {})
    for name, digest in now["inputs"].items():
        if old_inputs.get(name) != digest:
            what = "its train run was re-run" if name.endswith(records.SUMS_NAME) else "the pinned model or dataset changed"
            return f"{what} ({name})"
    emb = old_inputs.get("embeddings")
    if emb:
        current = embeddings_now(emb)
        if current is not None and current != emb.get("sha256"):
            return f"the cached retrieval embeddings changed ({emb.get('cache')})"
    return None

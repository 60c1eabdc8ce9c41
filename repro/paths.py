"""Path containment for everything the package writes under an output directory.

A run id is one safe name (`SAFE_RUN_ID`), checked after matrix expansion. Every directory
the package creates, renames or deletes goes through `inside(root, path)`, which resolves
both and refuses a path outside the root; `remove_made_dir` deletes only directories that
carry the package's marker file (`MARKER`), so no manifest or stray folder can make
`reproduce` delete something it did not make.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from repro import records
from repro.errors import UserError

RUN_ID_MAX = 128
SAFE_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,%d}" % (RUN_ID_MAX - 1))
MARKER = records.RUN_MARKER   # written into every run directory the package makes (not a result file)


def check_run_id(run_id: object) -> str | None:
    """None if `run_id` is safe, else what is wrong with it."""
    if not isinstance(run_id, str):
        return f"a run id must be text, not {type(run_id).__name__}"
    if len(run_id) > RUN_ID_MAX:
        return f"the run id is {len(run_id)} characters long (at most {RUN_ID_MAX})"
    if not SAFE_RUN_ID.fullmatch(run_id):
        return "a run id may hold only letters, digits, '-', '_' and '.', and may not start with '.' or '-'"
    return None


def inside(root: Path, path: Path) -> Path:
    """`path` resolved, if it lies strictly under `root` (resolved); else a UserError."""
    root_r, path_r = Path(root).resolve(), Path(path).resolve()
    if path_r == root_r or not path_r.is_relative_to(root_r):
        raise UserError(f"refusing to touch {path_r}: it is outside the output directory {root_r}",
                        file=str(path), fix="use run ids made of letters, digits, '-', '_' and '.'")
    return path_r


def make_dir(root: Path, path: Path, identity: dict | None = None) -> Path:
    """Create a package-owned directory under root, its marker holding `identity` (what was
    being made there, so an interrupted attempt can tell whether it may resume)."""
    path = inside(root, path)
    path.mkdir(parents=True)
    records.write_json(path / MARKER, identity or {})
    return path


def marker_says(path: Path) -> dict | None:
    try:
        return json.loads((Path(path) / MARKER).read_text())
    except (OSError, ValueError):
        return None


def is_made_by_package(path: Path) -> bool:
    """The marker, or (results written before the marker existed) a run.json naming this run."""
    path = Path(path)
    if (path / MARKER).is_file():
        return True
    try:
        return json.loads((path / "run.json").read_text())["run_id"] == path.name.removeprefix(".").removesuffix(".partial")
    except (OSError, ValueError, KeyError, TypeError):
        return False


def remove_made_dir(root: Path, path: Path) -> None:
    """Delete a directory the package made under root; refuse anything else."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    resolved = inside(root, path)
    if path.is_symlink() or not resolved.is_dir() or not is_made_by_package(resolved):
        raise UserError(f"{path} exists but was not made by repro, so it is left alone",
                        file=str(path), fix="move or delete it yourself, then run the command again")
    shutil.rmtree(resolved)


def rename_into_place(root: Path, src: Path, dst: Path) -> None:
    inside(root, src)
    inside(root, dst)
    Path(src).rename(dst)

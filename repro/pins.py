"""Committed checksum files under `checksums/`: bundled data and tiny models are checked
against them before use, so a run starts only from pinned inputs."""
from __future__ import annotations

from pathlib import Path

from repro import records
from repro.errors import UserError

CHECKSUMS_DIR = Path(__file__).resolve().parent.parent / "checksums"


def pinned(name: str) -> dict[str, str] | None:
    """Entries of checksums/<name>, or None when the package runs outside its source tree."""
    path = CHECKSUMS_DIR / name
    if not path.exists():
        return None
    return records.parse_sums(path.read_text(), str(path))


def check_files(root: Path, prefix: str, sums_name: str, what: str, fix: str | None = None) -> None:
    """Every file pinned under `prefix/` in checksums/<sums_name> must match root/<file>."""
    entries = pinned(sums_name)
    if entries is None:
        return
    mine = {k[len(prefix) + 1:]: v for k, v in entries.items() if k.startswith(prefix + "/")}
    for rel, digest in sorted(mine.items()):
        p = Path(root) / rel
        if not p.exists() or records.sha256_file(p) != digest:
            raise UserError(f"{what} file {p} does not match its pinned checksum",
                            file=str(CHECKSUMS_DIR / sums_name), field=f"{prefix}/{rel}",
                            fix=fix or (f"delete {root} to rebuild it; if it still differs, this machine computes "
                                        "differently from the reference machine (see docs/DETERMINISM.md)"))


def check_file(path: Path, name: str, sums_name: str, what: str) -> None:
    """One pinned file (entry `name` of checksums/<sums_name>) must match `path`."""
    digest = (pinned(sums_name) or {}).get(name)
    if digest is not None and records.sha256_file(path) != digest:
        raise UserError(f"{what} {path} does not match its pinned checksum", file=str(CHECKSUMS_DIR / sums_name),
                        field=name, fix="restore it with `git checkout`, or re-pin with `make checksums` if the change is intended")


def write_pin(path: Path, name: str, sums_name: str) -> Path:
    entries = dict(pinned(sums_name) or {})
    entries[name] = records.sha256_file(path)
    return records.write_atomic(CHECKSUMS_DIR / sums_name, records.format_sums(entries))


def write_pins(root: Path, prefix: str, sums_name: str) -> Path:
    """Add/replace the entries of one prefix in checksums/<sums_name>."""
    entries = {k: v for k, v in (pinned(sums_name) or {}).items() if not k.startswith(prefix + "/")}
    for rel in records.list_files(Path(root)):
        entries[f"{prefix}/{rel}"] = records.sha256_file(Path(root) / rel)
    return records.write_atomic(CHECKSUMS_DIR / sums_name, records.format_sums(entries))


def input_pins(model_key: str, dataset_key: str) -> dict:
    """What run.json records about a run's inputs: revision and file checksums of the model
    and the dataset (hub: checksums/inputs.lock.json; local: models.sha256 / data.sha256)."""
    import json

    from repro.registry import DATASETS, MODELS

    lock_path = CHECKSUMS_DIR / "inputs.lock.json"
    lock = json.loads(lock_path.read_text()) if lock_path.exists() else {}

    def local(sums_name: str, prefix: str) -> dict:
        entries = pinned(sums_name) or {}
        return {k[len(prefix) + 1:]: v for k, v in entries.items() if k.startswith(prefix + "/")}

    model, data = MODELS[model_key], DATASETS[dataset_key]
    if model.tiny:
        model_pin = {"source": "built locally (repro/tiny_models.py)", "files": local("models.sha256", model.key)}
    else:
        entry = (lock.get("models") or {}).get(model.key) or {}
        model_pin = {"hub_id": model.hub_id, "revision": model.revision, "files": entry.get("files")}
    if data.bundled_dir:
        data_pin = {"source": f"repro/bundled/{data.bundled_dir}", "files": local("data.sha256", data.bundled_dir)}
    else:
        entry = (lock.get("datasets") or {}).get(data.key) or {}
        data_pin = {"hub_id": data.hub_id, "revision": data.revision, "files": entry.get("files")}
    return {"model": model_pin, "dataset": data_pin}

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


def check_files(root: Path, prefix: str, sums_name: str, what: str) -> None:
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
                            fix=f"delete {root} to rebuild it; if it still differs, this machine computes "
                                "differently from the reference machine (see docs/DETERMINISM.md)")


def write_pins(root: Path, prefix: str, sums_name: str) -> Path:
    """Add/replace the entries of one prefix in checksums/<sums_name>."""
    entries = {k: v for k, v in (pinned(sums_name) or {}).items() if not k.startswith(prefix + "/")}
    for rel in records.list_files(Path(root)):
        entries[f"{prefix}/{rel}"] = records.sha256_file(Path(root) / rel)
    return records.write_atomic(CHECKSUMS_DIR / sums_name, records.format_sums(entries))

"""Run records on disk: atomic writes, SHA256SUMS files, and verification.

Every file a run writes goes through `write_atomic` (temp file in the same directory,
fsync, rename), so an interrupted run never leaves a half-written result behind.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

SUMS_NAME = "SHA256SUMS"

RUN_MARKER = ".repro-run"   # repro.paths.MARKER: says the package made the directory; not a result


@functools.lru_cache(maxsize=None)
def _umask() -> int:
    """The process umask, read without changing it (Linux: /proc; elsewhere set and restored)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    from repro.scratch import hidden_name

    prefix, suffix = hidden_name(path.name)  # names its owner: a killed writer's leftover is swept later
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def dumps_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, fixed indentation, trailing newline (byte-stable)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path, obj: Any) -> Path:
    return write_atomic(path, dumps_json(obj))


def write_jsonl(path, rows: Iterable[dict]) -> Path:
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
    return write_atomic(path, text)


def read_jsonl(path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def list_files(root: Path) -> list[Path]:
    """Every regular file below root except the sums file itself, sorted, relative."""
    root = Path(root)
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name not in (SUMS_NAME, RUN_MARKER) and not p.name.endswith(".tmp"):
            out.append(p.relative_to(root))
    return out


def format_sums(entries: dict[str, str]) -> str:
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(entries.items()))


def parse_sums(text: str, source: str = "<sums>") -> dict[str, str]:
    entries = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            digest, name = line.split(None, 1)
        except ValueError:
            raise VerificationFormatError(f"{source}:{n}: expected '<sha256>  <path>'")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise VerificationFormatError(f"{source}:{n}: '{digest[:70]}' is not a sha256 (64 hex digits)")
        entries[name.lstrip("*")] = digest
    return entries


class VerificationFormatError(ValueError):
    pass


def write_sums(root) -> Path:
    """Write root/SHA256SUMS covering every file below root."""
    root = Path(root)
    entries = {str(rel): sha256_file(root / rel) for rel in list_files(root)}
    return write_atomic(root / SUMS_NAME, format_sums(entries))


def verify_sums(root, sums: dict[str, str] | None = None) -> list[str]:
    """Problems found (empty list = verified). Checks listed files and unlisted extras."""
    root = Path(root)
    if sums is None:
        sums_path = root / SUMS_NAME
        if not sums_path.exists():
            return [f"{sums_path}: missing"]
        sums = parse_sums(sums_path.read_text(), str(sums_path))
    problems = []
    for name, digest in sorted(sums.items()):
        p = root / name
        if not p.exists():
            problems.append(f"{p}: missing")
        elif sha256_file(p) != digest:
            problems.append(f"{p}: checksum differs")
    return problems


def verify_tree(root) -> list[str]:
    """Verify every SHA256SUMS below root, and flag files no sums file covers: files a sums
    file's directory holds but does not list, and files under no sums file at all (e.g. a
    half-written report). Top-level hidden entries are the package's own bookkeeping (locks,
    `.partial` work in progress, set-aside files) and are not results."""
    root = Path(root)
    problems: list[str] = []
    sums_files = sorted(p for p in root.rglob(SUMS_NAME) if not _hidden_below(root, p))
    if not sums_files:
        return [f"{root}: no {SUMS_NAME} found"]
    covered = set()
    for sf in sums_files:
        d = sf.parent
        sums = parse_sums(sf.read_text(), str(sf))
        problems += verify_sums(d, sums)
        covered |= {(d / n).resolve() for n in sums}
        for rel in list_files(d):
            if (d / rel).resolve() not in covered and not any(
                    (d / rel).is_relative_to(o.parent) for o in sums_files if o.parent != d):
                problems.append(f"{d / rel}: not listed in {sf} (not part of that result: move it out of "
                                f"{d}; `repro reproduce` sets such files aside in {root}/.unlisted/)")
    sum_dirs = [sf.parent for sf in sums_files]
    for rel in list_files(root):
        if not _hidden_below(root, root / rel) and not any((root / rel).is_relative_to(d) for d in sum_dirs):
            problems.append(f"{root / rel}: not covered by any {SUMS_NAME} (a half-written result, or a file put "
                            f"there by hand: re-run the command that writes it, e.g. `repro report`, or remove it)")
    return problems


def _hidden_below(root: Path, path: Path) -> bool:
    """The path lies in (or is) a top-level hidden entry of root."""
    return Path(path).relative_to(root).parts[0].startswith(".")


def write_or_check(files: dict, check: bool, what: str = "generated files") -> int:
    """For generator scripts: write {path: text} atomically, or with `check` compare with the
    files on disk and write nothing. Returns an exit code (1 when a file is stale)."""
    if check:
        stale = [str(p) for p, text in files.items()
                 if not Path(p).is_file() or Path(p).read_text(encoding="utf-8") != text]
        print("up to date" if not stale else f"{what} differ: {', '.join(stale)}")
        return 1 if stale else 0
    for path, text in files.items():
        write_atomic(path, text)
        print(f"wrote {path}")
    return 0

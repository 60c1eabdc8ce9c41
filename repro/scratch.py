"""Scratch space: temporary files and directories the package makes, named after their owner,
and the sweep that removes what a killed process left behind.

A scratch name carries its owner tag `p<pid>t<start>h<host>` (the process id, its start time
in clock ticks since boot, and a hash of the host name), so a later process can tell a
leftover of a dead process from the work of a live one, even after the pid was reused or on
another machine sharing the directory (another host's entries are never removed). Two name
shapes, both made only by this package:

- in the system temp directory: `repro-<kind>-<tag>-<random>` (`temp_dir`);
- inside an output root: `.<name>.<tag>.<random>.tmp` (`hidden_name` prefix and suffix:
  `repro.records.write_atomic` temp files, `repro report`'s build directory).

`sweep_temp()` and `sweep_tree(root)` delete only entries of these shapes whose owner is
dead, and only inside the system temp directory or `root`; nothing is followed through a
symbolic link.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import zlib
from pathlib import Path

TEMP_PREFIX = "repro-"
TAG = r"p(?P<pid>\d+)t(?P<start>\d+)h(?P<host>[0-9a-f]{8})"
TEMP_NAME = re.compile(r"repro-(?:[a-z0-9]+-)+" + TAG + r"-[a-z0-9_]+")
HIDDEN_NAME = re.compile(r"\..+\." + TAG + r"\.[A-Za-z0-9_]+\.tmp")


def _host() -> str:
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def _start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot, /proc/<pid>/stat field 22); 0 where
    there is no /proc; None when no such process runs."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return int(fh.read().rsplit(b")", 1)[1].split()[19])
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return 0
    except (OSError, ValueError, IndexError):
        return 0


def owner_tag(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"p{pid}t{_start_time(pid) or 0}h{_host()}"


def owner_alive(match: re.Match) -> bool:
    """Whether the process a tag names may still be running (True when it cannot tell)."""
    if match["host"] != _host():
        return True
    start = _start_time(int(match["pid"]))
    return start is not None and (start == int(match["start"]) or start == 0 or match["start"] == "0")


def temp_dir(kind: str, parent: str | os.PathLike | None = None) -> Path:
    """A new scratch directory `repro-<kind>-<tag>-<random>` in `parent` (default: the system temp directory)."""
    return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{kind}-{owner_tag()}-", dir=parent))


def hidden_name(name: str) -> tuple[str, str]:
    """(prefix, suffix) for `tempfile.mkstemp` / `mkdtemp` of a hidden scratch entry beside `name`."""
    return f".{name}.{owner_tag()}.", ".tmp"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sweep_temp(temp: str | os.PathLike | None = None) -> list[Path]:
    """Remove `repro-*` scratch directories of dead owners from the system temp directory."""
    root = Path(temp or tempfile.gettempdir())
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = TEMP_NAME.fullmatch(entry.name)
        if match and not owner_alive(match):
            _remove(entry)
            removed.append(entry)
    return removed


def sweep_tree(root: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Remove hidden scratch entries (`.<name>.<tag>.<random>.tmp`) of dead owners anywhere
    below `root` (`recursive=False`: in `root` itself), without following symbolic links."""
    removed = []
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            match = HIDDEN_NAME.fullmatch(name)
            if match and not owner_alive(match):
                _remove(Path(top) / name)
                removed.append(Path(top) / name)
        dirs[:] = [d for d in dirs if recursive and os.path.isdir(os.path.join(top, d))]
    return removed

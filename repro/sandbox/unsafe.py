"""The `unsafe-subprocess` backend: the worker as a plain child process, NO isolation.

Only rlimits and a temporary work directory separate a program from this machine: it can
read your files, use the network and signal your processes. `open_sandbox` refuses it
unless the caller names the risk (`allow_unsafe=True`, CLI
`--i-accept-running-untrusted-code-unsandboxed`) and then warns on stderr and in info().
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from ..scratch import temp_dir
from .base import Launcher, PipeWorker

WARNING = ("UNSANDBOXED: untrusted programs run as plain subprocesses of this user with "
           "only rlimits; they can read files, reach the network and signal processes")


class UnsafeSubprocessLauncher(Launcher):
    name = "unsafe-subprocess"

    def __init__(self, python: str | None = None, python_path: list[str] | None = None):
        self.python = python or sys.executable
        self.python_path = python_path
        self.workroots: list[Path] = []

    def spawn(self, slot: int, worker_dir: Path) -> PipeWorker:
        workroot = temp_dir(f"unsafe-slot{slot}")  # scratch named after its owner (repro.scratch)
        self.workroots.append(workroot)
        # kill_all stays False: outside a PID namespace `kill(-1)` would hit this user's
        # every process; the worker kills the test's process group instead.
        site_dirs = self.python_path if self.python_path is not None else [
            p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
        config = {"workdir": str(workroot), "kill_all": False, "python_path": site_dirs}
        popen = subprocess.Popen(
            [self.python, "-s", "-S", "-B", str(worker_dir / "worker.py"), json.dumps(config)],
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True)
        return PipeWorker(popen, on_destroy=lambda: shutil.rmtree(workroot, ignore_errors=True))

    def info(self) -> dict:
        return {"isolation": "none (rlimits only)", "python": self.python}

    def close(self) -> None:
        for root in self.workroots:
            shutil.rmtree(root, ignore_errors=True)

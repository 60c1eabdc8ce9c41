"""Which sandbox backends this machine can run, and why not the others."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess

SECRET_ENV = "REPRO_HOSTILE_SECRET"
SECRET_VALUE = "s3cret-env-7d1f2a"
os.environ.setdefault(SECRET_ENV, SECRET_VALUE)  # must be set before any worker starts


@functools.lru_cache(maxsize=None)
def unavailable_reason(backend: str) -> str | None:
    """None when `backend` can run here, else the exact reason it cannot."""
    from repro.sandbox import SandboxUnavailable, open_sandbox
    if backend == "docker" and os.environ.get("REPRO_SANDBOX_START_DOCKER") == "1":
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        started = subprocess.run(["bash", os.path.join(root, "docker/engine.sh"), "start"],
                                 capture_output=True, text=True)
        if started.returncode != 0:
            return "docker/engine.sh start failed: " + started.stderr.strip()[-300:]
    if backend == "bubblewrap" and shutil.which("bwrap") is None:
        return "bubblewrap is not installed (run `bash .ci/install-sandbox.sh`)"
    try:
        with open_sandbox(backend, slots=1):
            return None
    except SandboxUnavailable as exc:
        return str(exc)

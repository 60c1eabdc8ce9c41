"""Which sandbox backends this machine can run, and why not the others.

Docker counts as available when an engine answers and the sandbox image exists. When the
engine answers but the image is missing, the image is built once per test session
(`bash docker/engine.sh sandbox-image`, about a minute with a fresh debootstrap) so that
CI really runs the Docker backend; REPRO_SANDBOX_BUILD_IMAGE=0 turns that off.
REPRO_SANDBOX_START_DOCKER=1 also starts an engine first (`bash docker/engine.sh start`).
Every reason names the step that failed.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess

SECRET_ENV = "REPRO_HOSTILE_SECRET"
SECRET_VALUE = "s3cret-env-7d1f2a"
os.environ.setdefault(SECRET_ENV, SECRET_VALUE)  # must be set before any worker starts
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENGINE_SCRIPT = os.path.join(ROOT, "docker", "engine.sh")


def engine_step(command: str, timeout: float) -> str | None:
    """None when `bash docker/engine.sh <command>` succeeds, else why it did not."""
    try:
        done = subprocess.run(["bash", ENGINE_SCRIPT, command], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"step `bash docker/engine.sh {command}` took more than {timeout:.0f} s"
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip())[-400:]
        return f"step `bash docker/engine.sh {command}` failed: {tail}"
    return None


@functools.lru_cache(maxsize=None)
def docker_setup_failure() -> str | None:
    """Start the engine (when asked) and build the sandbox image (when missing)."""
    from repro.sandbox import SandboxUnavailable
    from repro.sandbox.docker_backend import ImageMissing, connect
    if os.environ.get("REPRO_SANDBOX_START_DOCKER") == "1":
        failed = engine_step("start", timeout=300)
        if failed:
            return failed
    try:
        client, _, _ = connect()
    except ImageMissing as exc:
        if os.environ.get("REPRO_SANDBOX_BUILD_IMAGE", "1") == "0":
            return f"{exc} (not built: REPRO_SANDBOX_BUILD_IMAGE=0)"
        failed = engine_step("sandbox-image", timeout=900)
        return f"docker: the engine answers but {failed}" if failed else None
    except SandboxUnavailable as exc:
        return str(exc)
    client.close()
    return None


@functools.lru_cache(maxsize=None)
def unavailable_reason(backend: str) -> str | None:
    """None when `backend` can run here, else the exact reason it cannot."""
    from repro.sandbox import SandboxUnavailable, open_sandbox
    if backend == "docker":
        failed = docker_setup_failure()
        if failed:
            return failed
    if backend == "bubblewrap" and shutil.which("bwrap") is None:
        return "bubblewrap is not installed (run `bash .ci/install-sandbox.sh`)"
    try:
        with open_sandbox(backend, slots=1):
            return None
    except SandboxUnavailable as exc:
        return f"step `open_sandbox({backend!r})` failed: {exc}"

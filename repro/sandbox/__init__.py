"""Isolated execution of untrusted programs: one interface, three backends.

Benchmark-free: a request is a command, files, stdin and limits, the answer the raw
outcome; a task brings its in-sandbox code and needs as a `Setup` (e.g. repro/tasks/apps/).

`open_sandbox(backend="auto")` picks Docker when an engine answers and the sandbox image
exists, else bubblewrap, and refuses to run untrusted code without either unless the
caller explicitly accepts the risk. See docs/SANDBOX.md.
"""
from __future__ import annotations

from .base import DEFAULT_LIMITS, Need, Sandbox, SandboxUnavailable, Setup
from .unsafe import WARNING as UNSAFE_WARNING

BACKENDS = ("auto", "docker", "bubblewrap", "unsafe-subprocess")
UNSAFE_FLAG = "--i-accept-running-untrusted-code-unsandboxed"

__all__ = ["open_sandbox", "Sandbox", "SandboxUnavailable", "BACKENDS", "UNSAFE_FLAG",
           "DEFAULT_LIMITS", "Need", "Setup"]


def _launcher(backend: str, needs: tuple[Need, ...] = ()):
    if backend == "docker":
        from .docker_backend import DockerLauncher
        return DockerLauncher(needs=tuple(n.name for n in needs))
    if backend == "bubblewrap":
        import shutil

        for need in needs:
            missing = [t for t in need.programs if shutil.which(t) is None]
            if missing:
                raise SandboxUnavailable(f"bubblewrap: this work needs {need.name} and the host lacks "
                                         f"{', '.join(missing)}" + (f" (fix: {need.fix})" if need.fix else ""))
        from .bubblewrap import BubblewrapLauncher
        return BubblewrapLauncher(host_paths=tuple(p for n in needs for p in n.host_paths))
    raise ValueError(backend)


def selection(requested: str, chosen: str, reasons: list[str]) -> str:
    """Why `chosen` runs: asked for by name, or what `auto` found on its way there."""
    if requested != "auto":
        return f"{chosen}: requested by name"
    if chosen == "docker":
        return "auto: docker (an engine answers and the sandbox image provides what the work needs)"
    return f"auto: {chosen}, because " + "; ".join(reasons)


def open_sandbox(backend: str = "auto", slots: int = 2, allow_unsafe: bool = False,
                 limits: dict | None = None, setup: Setup = Setup()) -> Sandbox:
    """A ready pool of `slots` workers. `backend`: auto | docker | bubblewrap |
    unsafe-subprocess. `setup` is what the programs bring and need beyond Python; a
    backend that cannot provide its needs is passed over, saying why. Raises SandboxUnavailable
    (saying why) when no safe backend can run and `allow_unsafe` is False."""
    from ..errors import UserError
    if backend not in BACKENDS:
        raise UserError(f"unknown sandbox backend {backend!r}", field="sandbox.backend",
                        expected=" | ".join(BACKENDS), fix="pick one of the listed backends")
    if backend == "unsafe-subprocess" and not allow_unsafe:
        raise UserError("the unsafe-subprocess backend runs untrusted code without isolation",
                        field="sandbox.backend", fix=f"pass {UNSAFE_FLAG} to accept the risk, "
                        "or install bubblewrap (`bash .ci/install-sandbox.sh`)")
    reasons = []
    candidates = ["docker", "bubblewrap"] if backend == "auto" else [backend]
    for name in candidates:
        if name == "unsafe-subprocess":
            break
        try:
            sandbox = Sandbox(_launcher(name, setup.needs), slots=slots, limits=limits, setup=setup)
        except SandboxUnavailable as exc:
            reasons.append(str(exc))
            continue
        sandbox.selection = selection(backend, name, reasons)
        return sandbox
    if allow_unsafe and backend in ("auto", "unsafe-subprocess"):
        from .unsafe import UnsafeSubprocessLauncher
        sandbox = Sandbox(UnsafeSubprocessLauncher(), slots=slots, limits=limits,
                          warning=UNSAFE_WARNING, setup=setup)
        sandbox.selection = selection(backend, "unsafe-subprocess", reasons)
        return sandbox
    if backend != "auto":
        raise SandboxUnavailable(reasons[0])
    raise SandboxUnavailable(
        "no sandbox can run untrusted programs here:\n  " + "\n  ".join(reasons)
        + f"\nfix: run `bash .ci/install-sandbox.sh` (bubblewrap), or pass {UNSAFE_FLAG} "
        "to run them UNSANDBOXED at your own risk")

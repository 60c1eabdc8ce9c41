"""The backend-independent sandbox: a pool of long-lived worker slots and its protocol.

It runs programs and knows no benchmark: a request is a command, files, stdin, limits
(and a payload for in-process calls); the answer is the raw outcome. What a workload
brings (its in-sandbox modules, what to preload, what it needs) is a `Setup`.

A backend only knows how to start one worker process for a slot (`Launcher.spawn`) and
how to destroy it. Everything else lives here: the JSON-lines protocol, host-side
deadlines, and restarting a slot whose worker died, hung or was killed by a program.
"""
from __future__ import annotations

import abc
import json
import os
import queue
import select
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..scratch import temp_dir

WORKER_FILES = ("worker.py", "pyscript.py")
HOST_GRACE_SECONDS = 10.0
STARTUP_SECONDS = 60.0

DEFAULT_LIMITS = {
    "memory_bytes": 1 << 30,     # RLIMIT_AS per test process
    "file_bytes": 32 << 20,      # RLIMIT_FSIZE: caps output and any file written
    "processes": 64,             # RLIMIT_NPROC for the slot's uid
    "open_files": 256,
    "workdir_bytes": 64 << 20,   # size of the private tmpfs work directory
}


class SandboxUnavailable(RuntimeError):
    """The requested backend cannot run on this machine (the message says why)."""


@dataclass(frozen=True)
class Need:
    """What programs need beyond Python: a backend that cannot provide it is passed over.
    `name` is matched against the container image's `provides` label; under bubblewrap the
    host must have `programs` on PATH, and `host_paths` (globs) are mounted read-only."""
    name: str
    programs: tuple[str, ...] = ()
    host_paths: tuple[str, ...] = ()
    fix: str = ""


@dataclass(frozen=True)
class Setup:
    """What a workload brings into the sandbox: `files` (module name -> source path on the
    host) copied beside the worker, `preload` imported once in the worker before any fork,
    `needs` the backend must provide."""
    files: dict = field(default_factory=dict)
    preload: tuple[str, ...] = ()
    needs: tuple[Need, ...] = ()


class WorkerProcess(abc.ABC):
    """A started worker: bytes in, bytes out, and a way to destroy it."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def read_some(self, timeout: float) -> bytes | None:
        """Bytes read (b'' at end of stream), or None when nothing came in time."""

    @abc.abstractmethod
    def destroy(self) -> None: ...

    def describe_failure(self) -> str:
        """What the backend knows about a worker that did not start (for the error)."""
        return ""


class PipeWorker(WorkerProcess):
    """A worker that is a local child process talking over its stdin/stdout pipes."""

    def __init__(self, popen, on_destroy=None):
        self.popen = popen
        self.on_destroy = on_destroy

    def write(self, data: bytes) -> None:
        self.popen.stdin.write(data)
        self.popen.stdin.flush()

    def read_some(self, timeout: float) -> bytes | None:
        fd = self.popen.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not ready:
            return None
        return os.read(fd, 1 << 20)

    def destroy(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        try:
            self.popen.wait(timeout=10)
        except Exception:
            pass
        for stream in (self.popen.stdin, self.popen.stdout):
            try:
                stream.close()
            except Exception:
                pass
        if self.on_destroy:
            self.on_destroy()


class Launcher:
    """Starts the worker of one slot. Subclasses: bubblewrap, docker, unsafe subprocess."""

    name = "abstract"
    limits: dict = DEFAULT_LIMITS

    def spawn(self, slot: int, worker_dir: Path) -> WorkerProcess:
        """Start the worker of `slot` (each backend overrides this)."""
        raise SandboxUnavailable(f"{type(self).__name__} cannot start workers")

    def info(self) -> dict:
        return {}

    def close(self) -> None:
        pass


class Spawner:
    """The one long-lived thread that starts every worker of a pool. A backend may tie a
    worker's life to the thread that started it (bwrap `--die-with-parent` is
    PR_SET_PDEATHSIG, which fires when that *thread* ends), so no worker is ever started
    by a short-lived caller thread (e.g. a pool thread of a task harness, repro/tasks/)."""

    def __init__(self):
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self.serve, name="sandbox-spawner", daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            function, done = job
            try:
                done["value"] = function()
            except BaseException as exc:  # handed back to the caller
                done["error"] = exc
            done["event"].set()

    def call(self, function):
        done = {"event": threading.Event()}
        self.jobs.put((function, done))
        done["event"].wait()
        if "error" in done:
            raise done["error"]
        return done["value"]

    def stop(self) -> None:
        self.jobs.put(None)


class Slot:
    """One worker process and the line protocol with it; replaces a lost worker at once."""

    def __init__(self, index: int, launcher: Launcher, worker_dir: Path, spawner: Spawner):
        self.index, self.launcher, self.worker_dir = index, launcher, worker_dir
        self.spawner = spawner
        self.process: WorkerProcess | None = None
        self.buffer = b""
        self.ready: dict = {}
        self.restarts = 0

    def start(self) -> None:
        self.process = self.spawner.call(lambda: self.launcher.spawn(self.index, self.worker_dir))
        self.buffer = b""
        line = self.read_line(time.monotonic() + STARTUP_SECONDS)
        if line is None or not line.get("ready"):
            detail = self.process.describe_failure()
            self.stop()
            raise SandboxUnavailable(
                f"{self.launcher.name}: the worker of slot {self.index} did not start "
                f"(answer: {line!r})" + (f"; {detail}" if detail else ""))
        self.ready = line

    def stop(self) -> None:
        if self.process is not None:
            self.process.destroy()
            self.process = None

    def read_line(self, deadline: float) -> dict | None:
        while b"\n" not in self.buffer:
            chunk = self.process.read_some(deadline - time.monotonic())
            if not chunk:  # None = too late, b'' = the worker is gone
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def request(self, message: dict, wall_timeout: float, keep=None) -> dict:
        """One request. For a batch (`tests`), one outcome line per test as each test ends
        (each line with its own deadline) until the worker's `batch_end`: {"tests": what
        `keep` makes of each outcome, "time": their total, "lost": the worker was lost
        during the last, "reported": the first carried a compile report}."""
        if self.process is None:
            self.start()
        batch = {"tests": [], "time": 0.0, "lost": False}

        def take(outcome):
            batch["time"] += outcome.get("time") or 0.0
            batch["lost"] = outcome.get("status") == "sandbox-failure"
            batch.setdefault("reported", "compile" in outcome)
            batch["tests"].append(keep(outcome) if keep else outcome)
        try:
            self.process.write((json.dumps(message) + "\n").encode("utf-8"))
            while True:
                answer = self.read_line(time.monotonic() + wall_timeout + HOST_GRACE_SECONDS)
                if answer is None or "tests" not in message or answer.get("batch_end"):
                    break
                try:
                    take(answer)
                except BaseException:  # the rest of the batch would meet the next request
                    self.stop()
                    raise
        except (BrokenPipeError, ConnectionError, OSError) as exc:
            answer, why = None, repr(exc)
        else:
            why = "no answer in time" if answer is None else ""
        if answer is None:
            answer = self.replace_lost_worker(why, wall_timeout)
            if "tests" in message:
                take(answer)  # the test running when the worker was lost
        return batch if "tests" in message else answer

    def replace_lost_worker(self, why: str, wall_timeout: float) -> dict:
        """The worker died or hung (a program can kill it only by crashing the sandbox as a
        whole): destroy it and start its replacement now so that the next program finds a
        ready worker (else it is retried next time); the lost request's outcome."""
        self.stop()
        self.restarts += 1
        try:
            self.start()
        except SandboxUnavailable:
            self.stop()
        return {"status": "sandbox-failure", "error": f"worker lost: {why}",
                "exit_code": None, "stdout": "", "stderr": "", "result": None,
                "time": wall_timeout}


class Sandbox:
    """A pool of worker slots behind one backend. Thread-safe; use as a context manager."""

    selection: str | None = None  # why `open_sandbox("auto")` chose this backend

    def __init__(self, launcher: Launcher, slots: int = 2, limits: dict | None = None,
                 warning: str | None = None, setup: Setup = Setup()):
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.launcher = launcher
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.warning = warning
        # scratch: named after its owner, so the next run removes it if this process is killed
        self.worker_dir = temp_dir("sandbox-worker")
        os.chmod(self.worker_dir, 0o755)
        here = Path(__file__).parent
        sources = {**{name: here / name for name in WORKER_FILES}, **setup.files}
        for name, source in sources.items():
            shutil.copyfile(source, self.worker_dir / name)
            os.chmod(self.worker_dir / name, 0o644)
        (self.worker_dir / "setup.json").write_text(json.dumps({"preload": list(setup.preload)}))
        os.chmod(self.worker_dir / "setup.json", 0o644)
        launcher.limits = self.limits
        self.spawner = Spawner()
        self.slots = [Slot(i, launcher, self.worker_dir, self.spawner) for i in range(slots)]
        self.free: queue.Queue[Slot] = queue.Queue()
        self.closed = False
        self.lock = threading.Lock()
        try:
            for slot in self.slots:
                slot.start()
                self.free.put(slot)
        except BaseException:
            self.close()
            raise
        if warning:
            print(f"WARNING: {warning}", file=sys.stderr, flush=True)

    # ---- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for slot in self.slots:
            slot.stop()
        self.spawner.stop()
        self.launcher.close()
        shutil.rmtree(self.worker_dir, ignore_errors=True)

    # ---- running -----------------------------------------------------------------------
    def execute(self, request: dict, keep=None) -> dict:
        """Run one request (see worker.py: command, files, stdin, payload, timeout, limits,
        return_stdout) in a fresh child on a free slot; blocks until one is free. Returns
        the raw outcome: status (exited|timeout|sandbox-failure|worker-error), exit_code,
        signal, time, stdout (first `return_stdout` characters), stdout_bytes, stderr
        (tail) and `result` (what the program wrote on its result channel, parsed).

        A batch request (`tests`: [{stdin, payload}, ...], optional `budget` and `compile`,
        see worker.py) holds one slot for all its tests, each still in a fresh child, and
        returns {"tests": [...]}: per test, in order, its outcome or what `keep(outcome)`
        makes of it as the test ends (so that large outputs need not stay in memory);
        fewer than the tests only when the budget ran out or (the first outcome's
        `compile`) the source does not compile. A test that loses the worker gets a
        sandbox-failure outcome and the rest run on its replacement, as if every test had
        been its own request."""
        if self.closed:
            raise RuntimeError("the sandbox is closed")
        request = {**request, "limits": {**self.limits, **request.get("limits", {})}}
        timeout = float(request.get("timeout", 4.0))
        slot = self.free.get()
        try:
            if "tests" not in request:
                return slot.request(request, timeout)
            kept: list = []
            while True:
                part = slot.request(request, timeout, keep)
                kept += part["tests"]
                if not part["lost"] or len(part["tests"]) == len(request["tests"]) \
                        or ("compile" in request and not part["reported"]):
                    return {"tests": kept}
                request = {key: value for key, value in request.items() if key != "compile"}
                request["tests"] = request["tests"][len(part["tests"]):]
                if request.get("budget") is not None:
                    request["budget"] -= part["time"]
        finally:
            self.free.put(slot)

    def run(self, code: str, stdin: str = "", timeout: float = 4.0, *,
            return_stdout: int = 1 << 16, limits: dict | None = None) -> dict:
        """Run Python `code` as a script (`python main.py`) with `stdin`; the raw outcome."""
        return self.execute({"command": ["python", "main.py"], "files": {"main.py": code},
                             "stdin": stdin, "timeout": timeout, "return_stdout": return_stdout,
                             "limits": limits or {}})

    def info(self) -> dict:
        ready = self.slots[0].ready if self.slots else {}
        out = {"backend": self.launcher.name, "slots": len(self.slots),
               "limits": dict(self.limits), "worker_python": ready.get("python"),
               "worker_modules": ready.get("modules"),
               "restarts": sum(s.restarts for s in self.slots), **self.launcher.info()}
        if self.selection:
            out["selection"] = self.selection
        if self.warning:
            out["warning"] = self.warning
        return out

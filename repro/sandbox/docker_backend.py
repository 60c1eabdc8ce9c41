"""Docker backend: each slot's worker runs in its own long-lived, hardened container.

One container per slot from `peft-code-repro/sandbox:latest` (docker/sandbox/Dockerfile),
driven through the Docker SDK: no network, read-only root, a private tmpfs work dir, no
/dev/shm, pids/memory/CPU limits, `no-new-privileges`, a seccomp denylist shared with the
bubblewrap backend, docker-init as PID 1. The worker (`worker.py`, mounted read-only)
keeps four capabilities; every test runs in a forked child that drops to a per-slot uid
with none. Containers are named `repro-sandbox-<pid>-<instance>-<slot>` and removed on
close, on timeout, on a crashed worker, at exit and on SIGTERM/SIGHUP; if the host
process is killed outright, the worker sees its stdin close and the engine removes the
exited container (`auto_remove`). docs/SANDBOX.md lists every setting and why.
"""
from __future__ import annotations

import atexit
import errno
import itertools
import json
import os
import platform
import select
import signal
import socket
import struct
import threading
import time
from pathlib import Path

from .base import Launcher, SandboxUnavailable, WorkerProcess
from .bubblewrap import WORKDIR_INODES
from .seccomp_policy import DENIED_SYSCALLS

IMAGE = "peft-code-repro/sandbox:latest"
NAME_PREFIX = "repro-sandbox"
LABEL = "org.peft-code-repro.sandbox"
SANDBOX_PYTHON_FLAGS = ("/usr/bin/python3", "-s", "-S", "-B")  # as bubblewrap, see there
DIST_PACKAGES = "/usr/lib/python3/dist-packages"
WORKER_MOUNT = "/opt/sandbox"
WORKDIR = "/work"
UID_BASE = 5_000_000  # far above the bubblewrap backend's range: slots never share a uid
MAX_SLOTS = 20
WORKER_OVERHEAD_BYTES = 256 << 20  # worker + numpy + docker-init, on top of one test
REMOVE_WAIT_SECONDS = 15.0
STDERR_TAIL = 2000

# The worker is the container's root with every capability dropped but these; each test
# child calls setgroups/setgid/setuid to its slot uid before any untrusted code runs,
# which clears all of them (and no-new-privileges stops any way back).
WORKER_CAPABILITIES = {
    "SETUID": "drop each test child to the slot's unprivileged uid",
    "SETGID": "drop the child's groups (setgroups) and gid",
    "KILL": "kill what a test (another uid) leaves running, after every request",
    "DAC_OVERRIDE": "wipe a test's work directory even where the test chmod-ed it shut",
}

# clone() flags that create namespaces; seccomp cannot read clone3's arguments, so clone3
# answers ENOSYS and the C library falls back to clone (as Docker's own profile does).
NAMESPACE_CLONE_FLAGS = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000,
                         "CLONE_NEWUTS": 0x04000000, "CLONE_NEWIPC": 0x08000000,
                         "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
                         "CLONE_NEWNET": 0x40000000, "CLONE_NEWTIME": 0x00000080}
SECCOMP_ARCHITECTURES = {"x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                         "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]}



class ImageMissing(SandboxUnavailable):
    """An engine answers but the sandbox image is not built."""


_instances = itertools.count()
_live: dict[str, "ContainerWorker"] = {}
_live_lock = threading.Lock()
_handlers_installed = False


def seccomp_profile() -> dict:
    """Docker's JSON seccomp format: allow by default, EPERM for the bubblewrap backend's
    denylist, for sockets other than AF_UNIX and for namespace-creating clone flags."""
    eperm = {"action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM}
    rules = [{"names": list(DENIED_SYSCALLS), **eperm},
             {"names": ["socket"], **eperm,
              "args": [{"index": 0, "value": socket.AF_UNIX, "valueTwo": 0,
                        "op": "SCMP_CMP_NE"}]},
             {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS}]
    for flag in NAMESPACE_CLONE_FLAGS.values():
        # clone's flags are its first argument on x86-64 and arm64.
        rules.append({"names": ["clone"], **eperm,
                      "args": [{"index": 0, "value": flag, "valueTwo": flag,
                                "op": "SCMP_CMP_MASKED_EQ"}]})
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}
    arches = SECCOMP_ARCHITECTURES.get(platform.machine())
    if arches:
        profile["architectures"] = arches
    return profile


def slot_uid(instance: int, slot: int) -> int:
    """A host uid no other sandbox slot of this machine uses at the same time
    (RLIMIT_NPROC counts per uid across every container of the host)."""
    return UID_BASE + (os.getpid() % 4000) * 1000 + (instance % 50) * MAX_SLOTS + slot


PROVIDES_LABEL = "org.peft-code-repro.sandbox.provides"


def connect(image: str = IMAGE):
    """(client, engine version, image) or SandboxUnavailable saying which step failed."""
    try:
        import docker
    except ImportError:
        raise SandboxUnavailable("docker: the Docker SDK for Python is not installed "
                                 "(fix: `pip install docker==7.2.0`)") from None
    try:
        client = docker.from_env(timeout=60)
        client.ping()
        version = client.version().get("Version", "?")
    except Exception as exc:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise SandboxUnavailable(
            f"docker: no Docker engine answers at {where} ({type(exc).__name__}: "
            f"{str(exc)[:200]}) (fix: `bash docker/engine.sh start`)") from None
    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        client.close()
        raise ImageMissing(
            f"docker: the sandbox image {image} is not built (fix: `make sandbox-image`, "
            "i.e. `bash docker/engine.sh sandbox-image`)") from None
    return client, version, found


class ContainerWorker(WorkerProcess):
    """The worker of one container, over the engine's attach stream (stdin in; stdout and
    stderr out, multiplexed in 8-byte-header frames because the container has no TTY)."""

    def __init__(self, container, attach_socket, name: str):
        self.container, self.name = container, name
        self.attach = attach_socket  # keeps the HTTP response alive
        self.sock = getattr(attach_socket, "_sock", attach_socket)
        self.sock.settimeout(None)
        self.pending = bytearray()
        self.stderr_tail = b""
        self.eof = False
        self.destroyed = False

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_some(self, timeout: float) -> bytes | None:
        # Written by hand: the SDK's frame readers block, and the pool needs deadlines.
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            out = self.take_stdout()
            if out:
                return out
            if self.eof:
                return b""
            ready, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                chunk = b""
            if chunk:
                self.pending += chunk
            else:
                self.eof = True

    def take_stdout(self) -> bytes:
        out = bytearray()
        while len(self.pending) >= 8:
            stream, size = struct.unpack(">BxxxL", self.pending[:8])
            if len(self.pending) < 8 + size:
                break
            payload = bytes(self.pending[8:8 + size])
            del self.pending[:8 + size]
            if stream == 1:
                out += payload
            elif stream == 2:
                self.stderr_tail = (self.stderr_tail + payload)[-STDERR_TAIL:]
        return bytes(out)

    def describe_failure(self) -> str:
        tail = self.stderr_tail.decode("utf-8", "replace").strip()
        return f"container {self.name}; worker stderr: {tail[-500:]!r}" if tail else \
            f"container {self.name}; the worker wrote nothing on stderr"

    def destroy(self) -> None:
        if self.destroyed:
            return
        self.destroyed = True
        try:
            self.sock.close()
        except OSError:
            pass
        remove_container(self.container)
        with _live_lock:
            _live.pop(self.name, None)


def remove_container(container) -> None:
    """`docker rm -f`, then wait until the name is free (auto_remove may race with us)."""
    import docker
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: the engine is already removing it
            raise
    deadline = time.monotonic() + REMOVE_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            container.reload()
        except docker.errors.NotFound:
            return
        time.sleep(0.05)


def remove_all_live() -> None:
    with _live_lock:
        workers = list(_live.values())
    for worker in workers:
        try:
            worker.destroy()
        except Exception:
            pass


def _on_termination(signum, _frame):
    remove_all_live()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install_cleanup_handlers() -> None:
    """atexit, plus SIGTERM/SIGHUP where nobody else handles them (main thread only)."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(remove_all_live)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _on_termination)


def pid_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphaned_containers(client) -> list[str]:
    """Containers of this host whose owning process is gone (it was killed outright)."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        labels = container.labels
        try:
            owner = int(labels.get(f"{LABEL}.pid", ""))
        except ValueError:
            continue
        if labels.get(f"{LABEL}.host") == socket.gethostname() and not pid_is_alive(owner):
            remove_container(container)
            removed.append(container.name)
    return removed


class DockerLauncher(Launcher):
    name = "docker"

    def __init__(self, image: str = IMAGE, needs: tuple[str, ...] = ()):
        self.client, self.engine_version, found = connect(image)
        provides = set(filter(None, ((found.labels or {}).get(PROVIDES_LABEL) or "python3,numpy").split(",")))
        lacking = [n for n in needs if n not in provides]
        if lacking:
            self.client.close()
            raise SandboxUnavailable(
                f"docker: this work needs {', '.join(lacking)} and the sandbox image {image} provides only "
                f"{', '.join(sorted(provides))} (label {PROVIDES_LABEL})")
        self.image, self.image_id = image, found.id
        self.instance = next(_instances)
        self.seccomp = seccomp_profile()
        self.seccomp_json = json.dumps(self.seccomp, separators=(",", ":"))
        self.orphans_removed = remove_orphaned_containers(self.client)
        self.names: list[str] = []
        install_cleanup_handlers()

    def container_name(self, slot: int) -> str:
        return f"{NAME_PREFIX}-{os.getpid()}-{self.instance}-{slot}"

    def container_limits(self) -> dict:
        memory = int(self.limits["memory_bytes"]) + int(self.limits["workdir_bytes"]) \
            + WORKER_OVERHEAD_BYTES
        return {"mem_limit": memory, "memswap_limit": memory,
                "pids_limit": int(self.limits["processes"]) + 16, "nano_cpus": 1_000_000_000}

    def spawn(self, slot: int, worker_dir: Path) -> ContainerWorker:
        import docker
        name = self.container_name(slot)
        try:
            return self.start_container(name, slot, worker_dir)
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(f"docker: starting container {name} failed: "
                                     f"{str(exc)[:300]}") from None

    def start_container(self, name: str, slot: int, worker_dir: Path) -> ContainerWorker:
        import docker
        try:  # a leftover of this very name (a worker that could not be removed in time)
            remove_container(self.client.containers.get(name))
        except docker.errors.NotFound:
            pass
        uid = slot_uid(self.instance, slot)
        config = {"workdir": WORKDIR, "kill_all": True, "python_path": [DIST_PACKAGES],
                  "child_uid": uid, "child_gid": uid}
        container = self.client.containers.create(
            self.image, [*SANDBOX_PYTHON_FLAGS, f"{WORKER_MOUNT}/worker.py", json.dumps(config)],
            name=name, hostname="sandbox", user="0:0", working_dir=WORKDIR,
            environment={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"},
            # detach=False is how the SDK sets StdinOnce: the engine closes the worker's
            # stdin when our attach connection goes, so a killed host stops its workers.
            stdin_open=True, detach=False, tty=False, init=True,
            auto_remove=True, network_mode="none", ipc_mode="none", read_only=True,
            # Root-owned: a test writes only inside its own /work/tN (777, made and wiped
            # by the worker). No tmpfs on /tmp: as under bubblewrap, /tmp is not writable
            # (read-only root), and `tempfile` falls back to the test's directory.
            tmpfs={WORKDIR: f"size={int(self.limits['workdir_bytes'])},nr_inodes={WORKDIR_INODES},"
                            "mode=0755,uid=0,gid=0"},
            volumes={str(worker_dir): {"bind": WORKER_MOUNT, "mode": "ro"}},
            cap_drop=["ALL"], cap_add=list(WORKER_CAPABILITIES),
            security_opt=["no-new-privileges", f"seccomp={self.seccomp_json}"],
            ulimits=[docker.types.Ulimit(name="core", soft=0, hard=0)],
            log_config=docker.types.LogConfig(type="none"),
            labels={LABEL: "1", f"{LABEL}.pid": str(os.getpid()),
                    f"{LABEL}.host": socket.gethostname(), f"{LABEL}.slot": str(slot)},
            **self.container_limits())
        try:
            # Attach before start: nothing the worker writes can be missed.
            attach = container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1,
                                                     "stream": 1})
            worker = ContainerWorker(container, attach, name)
            with _live_lock:
                _live[name] = worker
            container.start()
        except BaseException:
            remove_container(container)
            with _live_lock:
                _live.pop(name, None)
            raise
        if name not in self.names:
            self.names.append(name)
        return worker

    def info(self) -> dict:
        return {"isolation": "docker: one container per slot; network none, read-only root, "
                             "private tmpfs /work, no /dev/shm (ipc none), pids/memory/CPU "
                             "limits, no-new-privileges, seccomp denylist, docker-init as "
                             "PID 1; tests run as a per-slot uid without capabilities",
                "engine_version": self.engine_version, "image": self.image,
                "image_id": self.image_id, "containers": list(self.names),
                "worker_capabilities": dict(WORKER_CAPABILITIES),
                "container_limits": self.container_limits(), "per_slot_uid": True,
                "programs_uid_differs_from_worker": True, "workdir_inode_limit": WORKDIR_INODES,
                "seccomp": {"default": "allow",
                            "denied_with_eperm": list(DENIED_SYSCALLS),
                            "socket_families_allowed": ["AF_UNIX"],
                            "clone_flags_denied": list(NAMESPACE_CLONE_FLAGS),
                            "clone3": "ENOSYS (falls back to clone)"}}

    def close(self) -> None:
        for name in self.names:
            with _live_lock:
                worker = _live.get(name)
            if worker is not None:
                worker.destroy()
        self.client.close()

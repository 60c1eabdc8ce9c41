"""bubblewrap backend: each slot's worker runs under `bwrap` as its own unprivileged uid.

Isolation: pid, net, ipc, uts and cgroup namespaces, a read-only root holding only /usr
(plus the few /etc files the dynamic linker and BLAS need), a private tmpfs as the only
writable directory, the worker as PID 1 of its namespace (everything dies with it), a
seccomp filter (`seccomp_policy.py`).

When the host runs as root (CI, containers), the slot runs in a private mount namespace
(`unshare --mount`) whose /work tmpfs has both a size and an inode limit, bwrap keeps only
the capabilities the worker needs, and every program runs as the slot's unprivileged uid,
which is not the worker's: a program can neither signal the worker nor open its
/proc/<pid>/mem, and cannot write outside its own work directory. Without root, bwrap runs
in a user namespace as one unprivileged uid (worker and programs share it; tmpfs without
an inode limit); info() says which.
"""
from __future__ import annotations

import glob
import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path

from ..scratch import temp_dir
from .base import Launcher, PipeWorker, SandboxUnavailable
from .seccomp_policy import export_bpf

SANDBOX_PYTHON = "/usr/bin/python3"
# Not `-I`: it implies -E, which would ignore PYTHONHASHSEED (the environment is cleared
# by --clearenv anyway). -s -S: no user or site packages; -B: no bytecode files.
SANDBOX_PYTHON_FLAGS = (SANDBOX_PYTHON, "-s", "-S", "-B")
DIST_PACKAGES = "/usr/lib/python3/dist-packages"
WORKER_MOUNT = "/opt/sandbox"
WORKDIR = "/work"
UID_BASE = 100_000
MAX_SLOTS = 20
WORKDIR_INODES = 4096  # files + directories a program may create (nr_inodes of the tmpfs)
# As root, the worker keeps only these (cf. the Docker backend's WORKER_CAPABILITIES).
WORKER_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_DAC_OVERRIDE")
MOUNT_THEN_EXEC = 'mount -t tmpfs -o "$1" repro-work "$2" && shift 2 && exec "$@"'
_instances = itertools.count()


def find_bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "bubblewrap: the `bwrap` program is not installed "
            "(fix: `apt-get install bubblewrap`, or run `bash .ci/install-sandbox.sh`)")
    if not os.access(SANDBOX_PYTHON, os.X_OK):
        raise SandboxUnavailable(
            f"bubblewrap: {SANDBOX_PYTHON} is missing (fix: `apt-get install python3 python3-numpy`)")
    return path


def slot_uid(instance: int, slot: int) -> int:
    """A host uid no other sandbox of this machine uses at the same time."""
    return UID_BASE + (os.getpid() % 4000) * 1000 + (instance % 50) * MAX_SLOTS + slot


class BubblewrapLauncher(Launcher):
    name = "bubblewrap"

    def __init__(self, host_paths: tuple[str, ...] = ()):
        self.bwrap = find_bwrap()
        self.host_paths = host_paths  # globs a workload needs mounted read-only (its Need)
        self.instance = next(_instances)
        self.as_root = os.geteuid() == 0
        self.bpf_dir = temp_dir("sandbox-bpf")  # scratch named after its owner (repro.scratch)
        self.bpf_path = self.bpf_dir / "filter.bpf"
        self.seccomp = export_bpf(self.bpf_path)
        self.version = subprocess.run([self.bwrap, "--version"], capture_output=True,
                                      text=True).stdout.strip()
        self.check_runs()

    def check_runs(self) -> None:
        """bwrap needs user namespaces: say so plainly when the kernel refuses them."""
        probe = subprocess.run(
            [self.bwrap, "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib",
             "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
             "/usr/bin/true"], capture_output=True, text=True, **self.user_kwargs(0))
        if probe.returncode != 0:
            raise SandboxUnavailable(
                f"bubblewrap: `bwrap --unshare-all` fails here ({probe.stderr.strip()}); "
                "unprivileged user namespaces may be disabled "
                "(fix: `sysctl -w kernel.unprivileged_userns_clone=1` or use Docker)")

    def user_kwargs(self, slot: int) -> dict:
        if not self.as_root:
            return {}
        uid = slot_uid(self.instance, slot)
        return {"user": uid, "group": uid, "extra_groups": []}

    def command(self, slot: int, worker_dir: Path, seccomp_fd: int) -> list[str]:
        config = {"workdir": WORKDIR, "kill_all": True, "python_path": [DIST_PACKAGES]}
        if self.as_root:
            uid = slot_uid(self.instance, slot)
            config.update(child_uid=uid, child_gid=uid)
            mount_point = self.bpf_dir / f"work-{slot}"
            mount_point.mkdir(exist_ok=True)
            options = (f"size={int(self.limits['workdir_bytes'])},nr_inodes={WORKDIR_INODES},"
                       "mode=0755,uid=0,gid=0")
            prefix = ["unshare", "--mount", "--propagation", "private",
                      "sh", "-c", MOUNT_THEN_EXEC, "sh", options, str(mount_point)]
            namespaces = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                          "--unshare-cgroup-try", "--cap-drop", "ALL"]
            for cap in WORKER_CAPABILITIES:
                namespaces += ["--cap-add", cap]
            work = ["--bind", str(mount_point), WORKDIR]
        else:
            prefix, namespaces = [], ["--unshare-all"]
            work = ["--size", str(int(self.limits["workdir_bytes"])), "--tmpfs", WORKDIR]
        cmd = [*prefix, self.bwrap, *namespaces, "--die-with-parent", "--as-pid-1",
               "--new-session", "--hostname", "sandbox", "--clearenv",
               "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8",
               "--setenv", "PYTHONHASHSEED", "0",
               "--ro-bind", "/usr", "/usr",
               "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
               "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin"]
        # Parents bwrap would create 0700 when it runs as root: programs (another uid)
        # must traverse them to reach /etc/alternatives and what a task mounts (repro/tasks/)
        cmd += ["--perms", "0755", "--dir", "/etc", "--perms", "0755", "--dir", "/opt"]
        needed = sorted(p for pattern in self.host_paths for p in glob.glob(pattern))
        for path in ("/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime", *needed):
            if os.path.exists(path):
                cmd += ["--ro-bind", path, path]
        cmd += ["--proc", "/proc", "--dev", "/dev", *work,
                "--ro-bind", str(worker_dir), WORKER_MOUNT,
                "--remount-ro", "/dev", "--remount-ro", "/",
                "--chdir", WORKDIR, "--seccomp", str(seccomp_fd),
                *SANDBOX_PYTHON_FLAGS, f"{WORKER_MOUNT}/worker.py", json.dumps(config)]
        return cmd

    def spawn(self, slot: int, worker_dir: Path) -> PipeWorker:
        seccomp_fd = os.open(self.bpf_path, os.O_RDONLY)
        try:
            popen = subprocess.Popen(
                self.command(slot, worker_dir, seccomp_fd), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, pass_fds=(seccomp_fd,),
                start_new_session=True)
        finally:
            os.close(seccomp_fd)
        return PipeWorker(popen)

    def info(self) -> dict:
        if self.as_root:
            isolation = ("bwrap as root in a private mount namespace: pid/net/ipc/uts/cgroup "
                         "namespaces, read-only /usr, private tmpfs /work with size and inode "
                         f"limits, seccomp, worker is PID 1 with only {', '.join(WORKER_CAPABILITIES)}; "
                         "programs run as the slot's unprivileged uid (not the worker's)")
        else:
            isolation = ("bwrap unprivileged: user/pid/net/ipc/uts/cgroup namespaces, read-only "
                         "/usr, private tmpfs /work (size limit only), seccomp, worker is PID 1; "
                         "programs share the worker's uid")
        return {"isolation": isolation, "bwrap_version": self.version,
                "per_slot_uid": self.as_root, "programs_uid_differs_from_worker": self.as_root,
                "workdir_inode_limit": WORKDIR_INODES if self.as_root else None,
                "seccomp": self.seccomp}

    def close(self) -> None:
        shutil.rmtree(self.bpf_dir, ignore_errors=True)

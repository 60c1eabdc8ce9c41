"""The seccomp filter loaded by bubblewrap: which system calls a sandboxed program loses.

Built on the host with `pyseccomp` (libseccomp) and handed to `bwrap --seccomp` as
compiled BPF, so nothing inside the sandbox needs libseccomp. Denied calls fail with
EPERM (a program sees an ordinary error instead of being killed mid-write).
"""
from __future__ import annotations

import errno
import socket
from pathlib import Path

# Kernel attack surface and escape routes that no untrusted program needs.
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "unshare", "setns",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "init_module",
    "finit_module", "delete_module", "iopl", "ioperm", "open_by_handle_at",
    "name_to_handle_at", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "syslog", "acct", "quotactl", "lookup_dcookie", "vhangup", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex", "setdomainname", "sethostname",
    "mbind", "migrate_pages", "move_pages", "set_mempolicy", "uselib", "personality",
    "fanotify_init", "nfsservctl",
)


def build_filter():
    import pyseccomp as seccomp
    denied = seccomp.ERRNO(errno.EPERM)
    fil = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            fil.add_rule(denied, name)
        except (RuntimeError, ValueError, OSError):
            pass  # a syscall this architecture does not have
    fil.add_rule(denied, "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    return fil


def export_bpf(path: Path) -> dict:
    """Write the compiled filter to `path`; return a description for info()."""
    fil = build_filter()
    with open(path, "wb") as fh:
        fil.export_bpf(fh)
    return {"default": "allow", "denied_with_eperm": list(DENIED_SYSCALLS),
            "socket_families_allowed": ["AF_UNIX"]}

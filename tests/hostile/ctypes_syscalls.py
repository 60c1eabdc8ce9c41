# Attack: raw system calls through ctypes (namespaces, ptrace, mount, bpf, io_uring).
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
calls = {"unshare(CLONE_NEWUSER)": (272, 0x10000000), "ptrace(TRACEME)": (101, 0),
         "mount": (165, 0), "bpf": (321, 0), "io_uring_setup": (425, 1),
         "setuid(0)": (105, 0), "reboot": (169, 0)}
for name, (nr, arg) in calls.items():
    rc = libc.syscall(nr, arg, 0, 0, 0)
    print(name, "rc", rc, "errno", ctypes.get_errno())

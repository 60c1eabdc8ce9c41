# Attack: send every signal to the worker (PID 1 under bubblewrap, the parent process in
# a container), to every process of the sandbox and to the whole group, through libc so
# that the paper harness's guard (os.kill = None) does not stop it.
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
targets = {1, os.getppid(), 0, -1}
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        targets.add(int(pid))
delivered = 0
for sig in range(1, 65):
    if sig in (9, 19):  # SIGKILL/SIGSTOP last: the others must not have done anything
        continue
    for target in targets:
        delivered += libc.kill(target, sig) == 0
for target in targets:
    for sig in (19, 9):
        delivered += libc.kill(target, sig) == 0
print("delivered", delivered)

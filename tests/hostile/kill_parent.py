# Attack: kill the harness (parent, PID 1, the whole process group, everyone).
import os, signal
for target in (os.getppid(), 1, 0, -1):
    for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):
        try:
            os.kill(target, sig)
        except OSError:
            pass
print("still here")

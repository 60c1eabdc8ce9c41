# Attack: read /etc/shadow, the host environment and the results directory.
import os
for path in ["/etc/shadow", "/proc/1/environ", "/proc/self/environ",
             "{HOST_DIR}/secret.txt", "/root/.bash_history"]:
    try:
        with open(path, "rb") as fh:
            print(path, fh.read(4096))
    except OSError as exc:
        print("blocked", path, type(exc).__name__)
print(dict(os.environ))

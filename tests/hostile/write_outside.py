# Attack: write files outside the work directory (host /tmp, /dev/shm, the results
# directory, the worker's own code, the root). Prints what succeeded.
import os
targets = ["/tmp/repro-hostile-{TOKEN}", "/dev/shm/repro-hostile-{TOKEN}",
           "{HOST_DIR}/written-{TOKEN}", "/repro-hostile-{TOKEN}",
           "/opt/sandbox/worker.py", "/usr/repro-hostile-{TOKEN}", "/etc/repro-hostile-{TOKEN}"]
for path in targets:
    try:
        with open(path, "a") as fh:
            fh.write("pwned")
        print("WROTE", path)
    except OSError as exc:
        print("blocked", path, type(exc).__name__)

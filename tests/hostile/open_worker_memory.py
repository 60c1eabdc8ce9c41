# Attack: open /proc/<pid>/mem (and mem-like files) of every other process of the
# sandbox, the worker above all, to read its memory or patch its code.
import os
opened = []
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == os.getpid():
        continue
    for name in ("mem", "environ", "fd/0", "fd/1", "root/proc/1/mem"):
        try:
            with open("/proc/%s/%s" % (pid, name), "rb") as fh:
                fh.read(1)
            opened.append("%s/%s" % (pid, name))
        except Exception:
            pass
print("OPENED " + " ".join(opened) if opened else "blocked: no process memory opened")

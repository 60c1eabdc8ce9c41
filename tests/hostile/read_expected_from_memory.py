# Attack: find the expected output in this process (frames, every live object, the
# environment, the worker's command line and files) and print it, hoping to pass.
import gc, os, sys
seen = set()
def offer(text):
    if isinstance(text, str) and "EXPECTED-" in text and text not in seen:
        seen.add(text)
frame = sys._getframe()
while frame is not None:
    for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
        offer(value if isinstance(value, str) else repr(value)[:100000])
    frame = frame.f_back
for obj in gc.get_objects():
    try:
        offer(obj if isinstance(obj, str) else repr(obj)[:100000])
    except Exception:
        pass
offer(repr(dict(os.environ)))
for pid in os.listdir("/proc"):
    for name in ("cmdline", "environ"):
        try:
            offer(open("/proc/%s/%s" % (pid, name), "rb").read().decode("latin-1"))
        except Exception:
            pass
for root, _, files in os.walk("/"):
    if root.startswith(("/proc", "/sys", "/usr")):
        continue
    for name in files:
        try:
            offer(open(os.path.join(root, name), "rb").read(1 << 20).decode("latin-1"))
        except Exception:
            pass
found = "\n".join(sorted(seen)) if seen else "nothing found"
print(found)

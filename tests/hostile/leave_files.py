# Attack: leave files for the next program everywhere a program may write (work dir,
# HOME, TMPDIR, the work root, /tmp, /dev/shm) and hide one behind a chmod-ed directory.
import os, tempfile
places = [os.getcwd(), os.environ.get("HOME", ""), tempfile.gettempdir(), "/work", "/tmp",
          "/dev/shm", os.path.dirname(os.getcwd())]
left = []
for place in places:
    try:
        path = os.path.join(place, "left-by-{TOKEN}")
        with open(path, "w") as fh:
            fh.write("{TOKEN}")
        left.append(path)
    except Exception:
        pass
try:
    os.makedirs("hidden/inner")
    open("hidden/inner/left-by-{TOKEN}", "w").write("{TOKEN}")
    os.chmod("hidden", 0)
except Exception:
    pass
print("left", len(left))

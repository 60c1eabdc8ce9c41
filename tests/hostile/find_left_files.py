# The next program: looks for anything an earlier program left.
import os
found = []
for root, dirs, files in os.walk("/"):
    if root.startswith(("/proc", "/sys", "/usr")):
        dirs[:] = []
        continue
    found += [os.path.join(root, f) for f in files if "left-by-" in f]
print("FOUND " + " ".join(found) if found else "clean")

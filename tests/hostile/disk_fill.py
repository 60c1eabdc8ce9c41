# Attack: fill the disk through many files in the work directory.
import os
chunk = b"x" * (1 << 20)
n = 0
try:
    while True:
        with open("fill%d" % n, "wb") as fh:
            for _ in range(8):
                fh.write(chunk)
        n += 1
except OSError as exc:
    print("stopped after", n, "files:", exc)

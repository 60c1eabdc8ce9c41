# Attack: create empty files until the file system refuses (bytes are not the limit).
import os
made = 0
try:
    for made in range(1, 1000001):
        os.close(os.open("f%d" % made, os.O_CREAT | os.O_WRONLY, 0o600))
except OSError as exc:
    made -= 1
    print("stopped after", made, "files:", exc.strerror)
else:
    print("made", made, "files")

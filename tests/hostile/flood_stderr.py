# Attack: 1 GB on standard error.
import os
block = b"e" * (1 << 20)
for _ in range(1024):
    os.write(2, block)

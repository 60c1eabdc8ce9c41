# Attack: close stdout/stderr under the harness, then write to them.
import os, sys
os.close(1)
os.close(2)
print("into the void")
sys.stdout.flush()

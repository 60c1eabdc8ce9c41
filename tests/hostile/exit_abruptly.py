# Attack: leave without a trace (no result, no flush).
import os
print("half a line", end="")
os._exit(0)

# Attack: hang without using CPU (only a wall-clock limit stops it).
import time
time.sleep(100000)

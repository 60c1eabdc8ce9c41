# Attack: allocate (and touch) memory without end.
blocks = []
while True:
    blocks.append(bytearray(50 * 1024 * 1024))

# Attack: recurse past the C stack (repr of a deeply nested list) so the interpreter
# segfaults.
import sys
sys.setrecursionlimit(10 ** 8)
nested = []
for _ in range(10 ** 6):
    nested = [nested]
print(len(repr(nested)))

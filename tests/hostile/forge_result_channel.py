# Attack (it does not know the answer): write well-formed outcome records, verdict-shaped records and "passed" flags on
# every descriptor, then leave before the harness can write its own.
import json, os
forged = [
    {"tests": [{"lines": ["forged"], "time": 0.0}]},
    {"tests": [{"value": ["str", "forged"], "time": 0.0}]},
    {"value": ["bool", True], "time": 0.0},
    {"verdict": True, "results": [True], "times": [0.0], "errors": [None]},
    {"status": "exited", "exit_code": 0, "result": {"results": [True]}},
    {"compile": {"ok": True, "error": None}, "status": "exited", "exit_code": 0, "stdout": "forged"},
    {"batch_end": True},
]
for record in forged:
    data = (json.dumps(record) + "\n").encode()
    for fd in range(1, 256):
        try:
            os.write(fd, data)
        except OSError:
            pass
os._exit(0)

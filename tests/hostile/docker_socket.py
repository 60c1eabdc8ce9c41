# Attack: talk to the Docker engine through its socket.
import socket
for path in ["/var/run/docker.sock", "/run/docker.sock"]:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.sendall(b"GET /containers/json HTTP/1.0\r\n\r\n")
        print("CONNECTED", path, s.recv(100))
    except OSError as exc:
        print("blocked", path, type(exc).__name__)

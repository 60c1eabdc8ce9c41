# Attack: reach the outside world (DNS and a public address).
import socket
for host, port in [("1.1.1.1", 53), ("151.101.0.223", 443)]:
    try:
        socket.create_connection((host, port), timeout=2)
        print("CONNECTED", host)
    except OSError as exc:
        print("blocked", host, type(exc).__name__)
try:
    print("RESOLVED", socket.gethostbyname("pypi.org"))
except OSError as exc:
    print("blocked dns", type(exc).__name__)

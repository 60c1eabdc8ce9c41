"""Hostile programs against every sandbox backend this machine can run.

For each attack in tests/hostile/: the sandbox answers (the evaluation finishes), the
attack's effect is contained (checked from the host), and programs run before, after and
beside it on both slots still get their exact results.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from hostile.backends import SECRET_ENV, SECRET_VALUE, unavailable_reason
from repro.tasks.apps.harness import evaluate, open_apps_sandbox


HOSTILE = Path(__file__).parent / "hostile"
BACKENDS = ["bubblewrap", "docker"]
ATTACK_TIMEOUT = 2.0
CANARY = "a, b = map(int, input().split())\nprint(a * b)\n"


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request):
    reason = unavailable_reason(request.param)
    if reason:
        pytest.skip(f"{request.param} backend unavailable here: {reason}")
    with open_apps_sandbox(request.param, slots=2) as sb:
        yield sb


@pytest.fixture(scope="module")
def host_dir():
    """Stands for the results directory: a secret inside, nothing may be written."""
    with tempfile.TemporaryDirectory(prefix="repro-hostile-results-") as d:
        Path(d, "secret.txt").write_text("results-secret-91c4")
        yield Path(d)


@pytest.fixture(scope="module")
def loopback_server():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    connections = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except OSError:
                pass
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join()
    server.close()


def attack_source(name: str, token: str, host_dir: Path, port: int) -> str:
    text = (HOSTILE / f"{name}.py").read_text()
    return text.replace("{TOKEN}", token).replace("{HOST_DIR}", str(host_dir)) \
               .replace("{PORT}", str(port))


def assert_canaries(sb) -> None:
    """Both slots still compute exact answers (FIFO slot queue: two runs hit both)."""
    for a, b in [(6, 7), (12, 12)]:
        answer = sb.run(CANARY, f"{a} {b}\n", timeout=10)
        assert answer["status"] == "exited" and answer["exit_code"] == 0, answer
        assert answer["stdout"] == f"{a * b}\n"


def check_no_leftovers(sb) -> None:
    probe = ("import os, time\n"
             "pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
             "size = lambda: os.path.getsize('/work/orphan-was-here') "
             "if os.path.exists('/work/orphan-was-here') else 0\n"
             "first = size(); time.sleep(0.3)\n"
             "print(len(pids), size() - first)\n")
    for _ in range(2):
        answer = sb.run(probe, timeout=5)
        processes, growth = map(int, answer["stdout"].split())
        assert growth == 0, "an orphan of an earlier test is still writing"
        assert processes <= 3, f"{processes} processes visible: leftovers survived"


ATTACKS = [
    "infinite_loop", "sleep_forever", "ignore_signals", "fork_bomb", "thread_bomb",
    "memory_bomb", "disk_fill", "huge_output", "flood_stderr", "close_std_streams",
    "write_outside", "read_secrets", "network_loopback", "network_external",
    "docker_socket", "kill_parent", "kill_everything", "orphan_children",
    "ctypes_syscalls", "deep_recursion", "protocol_forgery", "exit_abruptly",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_is_contained(sandbox, attack, host_dir, loopback_server):
    port, connections = loopback_server
    token = uuid.uuid4().hex[:12]
    sentinel = subprocess.Popen(["sleep", "120"])  # a host process nobody may kill
    try:
        answer = sandbox.run(attack_source(attack, token, host_dir, port),
                             timeout=ATTACK_TIMEOUT, return_stdout=1 << 20)
        assert answer["status"] in ("exited", "timeout"), answer
        assert answer["time"] < ATTACK_TIMEOUT + 5
        out = answer["stdout"]
        assert len(out) <= 1 << 20 and len(answer["stderr"]) <= 4096
        # Nothing escaped to the host.
        for path in (Path("/tmp") / f"repro-hostile-{token}",
                     Path("/dev/shm") / f"repro-hostile-{token}",
                     host_dir / f"written-{token}", Path("/") / f"repro-hostile-{token}"):
            assert not path.exists(), f"{attack} wrote {path}"
        assert sentinel.poll() is None, f"{attack} killed a host process"
        assert "WROTE" not in out and "CONNECTED" not in out and "RESOLVED" not in out
        assert SECRET_VALUE not in out and "results-secret" not in out
        assert "root:" not in out, "/etc/shadow was readable"
        assert not connections, "a program reached the host's loopback"
        assert sandbox.info()["restarts"] == 0, "an attack took a worker down"
        specific = CHECKS.get(attack)
        if specific:
            specific(answer)
    finally:
        sentinel.kill()
        sentinel.wait()
    assert_canaries(sandbox)
    check_no_leftovers(sandbox)


def expect_timeout(answer):
    assert answer["status"] == "timeout"


def expect_failure(answer):
    assert answer["status"] == "timeout" or answer["exit_code"] != 0 or answer.get("signal")


def expect_blocked_lines(answer):
    lines = answer["stdout"].splitlines()
    assert lines and all(line.startswith(("blocked", "signalled", "still here", "{"))
                         or "blocked" in line for line in lines), lines


def expect_syscalls_denied(answer):
    for line in answer["stdout"].splitlines():
        name, _, rc, _, err = line.split(" ")[-5:] if line.count(" ") >= 4 else ("", "", "", "", "")
        assert rc == "-1", f"raw syscall succeeded: {line}"


def expect_disk_bounded(answer):
    assert "stopped after" in answer["stdout"]
    files = int(answer["stdout"].split()[2])
    assert files * 8 <= 64, "wrote more than the work directory's size"


CHECKS = {
    "infinite_loop": expect_timeout, "sleep_forever": expect_timeout,
    "ignore_signals": expect_timeout, "memory_bomb": expect_failure,
    "huge_output": expect_failure, "flood_stderr": expect_failure,
    "deep_recursion": expect_failure, "disk_fill": expect_disk_bounded,
    "write_outside": expect_blocked_lines, "docker_socket": expect_blocked_lines,
    "network_loopback": expect_blocked_lines, "network_external": expect_blocked_lines,
    "ctypes_syscalls": expect_syscalls_denied,
}


def test_secret_env_is_set_on_host():
    # The read_secrets attack is only meaningful if the host really has the secret.
    assert os.environ.get(SECRET_ENV) == SECRET_VALUE


def test_hostile_batch_leaves_other_programs_intact(sandbox):
    """Attacks mixed into an APPS evaluation (both modes): good programs keep [True]."""
    io = json.dumps({"inputs": ["3 4\n"], "outputs": ["12\n"]})
    problems = {"p": {"problem_id": "p", "input_output": io, "difficulty": "interview"}}
    attacks = ["fork_bomb", "kill_parent", "protocol_forgery", "orphan_children",
               "deep_recursion", "exit_abruptly", "kill_everything"]
    samples = []
    for i, name in enumerate(attacks):
        samples.append({"problem_id": "p", "sample": 2 * i, "code": CANARY})
        samples.append({"problem_id": "p", "sample": 2 * i + 1,
                        "code": attack_source(name, "x", Path("/nonexistent"), 9)})
    for mode in ("paper", "strict"):
        records = evaluate(samples, problems, mode=mode, sandbox=sandbox, progress=False,
                           per_test_timeout=2)
        for record in records:
            if record["sample"] % 2 == 0:
                assert record["results"] == [True], (mode, record)
            else:
                assert record["results"] in ([-1], [False], [-2]), (mode, record)
    assert sandbox.info()["restarts"] == 0

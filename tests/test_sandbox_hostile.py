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
    "signal_worker", "open_worker_memory", "inode_exhaustion",
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


def expect_inodes_bounded(answer):
    from repro.sandbox.bubblewrap import WORKDIR_INODES
    words = answer["stdout"].split()
    assert words[:2] == ["stopped", "after"], answer["stdout"]
    assert int(words[2]) <= WORKDIR_INODES, "the work directory has no inode limit"


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
    "ctypes_syscalls": expect_syscalls_denied, "open_worker_memory": expect_blocked_lines,
    "inode_exhaustion": expect_inodes_bounded,
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


def call_based(source: str, fn_name: str) -> str:
    """An attack as the body of the function a call-based problem names."""
    body = "\n".join("    " + line for line in source.splitlines())
    return f"def {fn_name}(x):\n{body}\n    return locals().get('found')\n"


def test_no_program_passes_a_test_it_did_not_solve(sandbox):
    """Reading the expected output from frames, objects, files or the worker's memory,
    and forging the result channel: no verdict but the attacker's own changes, and it
    never passes (both modes; a stdin and a call-based problem whose answer is secret)."""
    token = uuid.uuid4().hex[:12]
    secret = f"EXPECTED-{token}"
    problems = {
        "stdin": {"input_output": json.dumps({"inputs": ["x\n"], "outputs": [secret + "\n"]})},
        "call": {"input_output": json.dumps({"inputs": [[1]], "outputs": [[secret]], "fn_name": "f"})},
        "canary": {"input_output": json.dumps({"inputs": ["3 4\n"], "outputs": ["12\n"]})},
    }
    for pid, problem in problems.items():
        problem.update(problem_id=pid, difficulty="interview")
    samples = [{"problem_id": "canary", "sample": 0, "code": CANARY}]
    for name in ("read_expected_from_memory", "forge_result_channel"):
        source = attack_source(name, token, Path("/nonexistent"), 9)
        for pid, code in (("stdin", source), ("call", call_based(source, "f"))):
            samples.append({"problem_id": pid, "sample": len([s for s in samples if s["problem_id"] == pid]),
                            "code": code})
    for mode in ("paper", "strict"):
        records = evaluate(samples, problems, mode=mode, sandbox=sandbox, progress=False,
                           per_test_timeout=4)
        for sample, record in zip(samples, records):
            if sample["problem_id"] == "canary":
                assert record["results"] == [True], (mode, record)
            else:
                assert True not in record["results"], (mode, sample["code"][:60], record)
                assert record["results"] in ([False], [-1]), (mode, record)
                assert not any(secret in (e or "") for e in record["errors"])
    assert sandbox.info()["restarts"] == 0


def test_no_program_sees_what_an_earlier_one_wrote(sandbox):
    token = uuid.uuid4().hex[:12]
    with open_apps_sandbox(sandbox.launcher.name, slots=1) as one:
        left = one.run(attack_source("leave_files", token, Path("/x"), 9), timeout=5)
        assert left["status"] == "exited" and left["stdout"].startswith("left"), left
        assert int(left["stdout"].split()[1]) >= 2  # at least its work dir and HOME
        after = one.run((HOSTILE / "find_left_files.py").read_text(), timeout=10)
        assert after["stdout"] == "clean\n", after["stdout"]
        # The inode limit is per program: a full tmpfs is empty again for the next one.
        one.run(attack_source("inode_exhaustion", token, Path("/x"), 9), timeout=20)
        again = one.run("import os\nfor i in range(500):\n    open(f'g{i}', 'w').close()\n"
                        "print(len([n for n in os.listdir('.') if n.startswith('g')]))", timeout=10)
        assert again["stdout"] == "500\n", again


def test_the_worker_is_out_of_reach(sandbox):
    """Programs run as another uid than the worker, which is not dumpable and ignores or
    outlives every signal: after the attacks the same worker answers."""
    ready = [slot.ready for slot in sandbox.slots]
    assert all(r["non_dumpable"] for r in ready)
    if sandbox.info().get("programs_uid_differs_from_worker"):
        assert all(r["child_uid"] != r["uid"] for r in ready)
        uid = sandbox.run("import os\nprint(os.getuid())")["stdout"].strip()
        assert int(uid) != ready[0]["uid"]
    for name in ("signal_worker", "open_worker_memory"):
        for _ in range(2):  # both slots
            answer = sandbox.run(attack_source(name, "x", Path("/x"), 9), timeout=5)
            assert "OPENED" not in answer["stdout"], answer["stdout"]
    assert [slot.ready["pid"] for slot in sandbox.slots] == [r["pid"] for r in ready]
    assert sandbox.info()["restarts"] == 0
    assert_canaries(sandbox)


def test_tests_of_one_program_share_nothing(sandbox):
    """Strict mode sends all the tests of a program in one batch request: a test that
    leaves files and a running orphan behind is invisible to the program's next test."""
    token = uuid.uuid4().hex[:12]
    leave = attack_source("leave_files", token, Path("/x"), 9) + "\n" + \
        attack_source("orphan_children", token, Path("/x"), 9)
    find = (HOSTILE / "find_left_files.py").read_text() + (
        "import time\nbefore = os.path.exists('/work/orphan-was-here')\ntime.sleep(0.3)\n"
        "print('orphan' if before or os.path.exists('/work/orphan-was-here') else 'alone')\n")
    program = (f"if input() == 'leave':\n    exec({leave!r})\nelse:\n    exec({find!r})\n")
    answer = sandbox.execute({"command": ["python", "main.py"], "files": {"main.py": program},
                              "tests": [{"stdin": "leave"}, {"stdin": "find"}], "timeout": 10,
                              "compile": program})
    left, found = answer["tests"]
    assert left["stdout"].startswith("left") and int(left["stdout"].split()[1]) >= 2, left
    assert found["stdout"] == "clean\nalone\n", found
    assert sandbox.info()["restarts"] == 0

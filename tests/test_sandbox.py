"""The sandbox interface: backend choice, refusal without isolation, info(), basic runs."""
from __future__ import annotations

import pytest

from hostile.backends import unavailable_reason
from repro.errors import UserError
from repro.sandbox import UNSAFE_FLAG, Need, SandboxUnavailable, Setup, open_sandbox


def test_unknown_backend_is_a_user_error():
    with pytest.raises(UserError, match="unknown sandbox backend"):
        open_sandbox("chroot")


def test_unsafe_backend_needs_explicit_consent():
    with pytest.raises(UserError) as err:
        open_sandbox("unsafe-subprocess")
    assert UNSAFE_FLAG in str(err.value)


def test_unsafe_backend_warns_loudly(capsys):
    # Benign program only: this backend has no isolation.
    with open_sandbox("unsafe-subprocess", slots=1, allow_unsafe=True) as sb:
        answer = sb.run("print(int(input()) * 2)", "21\n")
        info = sb.info()
    assert answer["stdout"] == "42\n"
    assert info["backend"] == "unsafe-subprocess" and "UNSANDBOXED" in info["warning"]
    assert "UNSANDBOXED" in capsys.readouterr().err


def test_docker_unavailable_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")  # no engine there
    with pytest.raises(SandboxUnavailable, match="docker"):
        open_sandbox("docker", slots=1)


@pytest.fixture(scope="module")
def bwrap_reason():
    return unavailable_reason("bubblewrap")


def test_auto_picks_a_safe_backend(bwrap_reason):
    if bwrap_reason:
        with pytest.raises(SandboxUnavailable, match=UNSAFE_FLAG):
            open_sandbox("auto", slots=1)
        return
    with open_sandbox("auto", slots=2, setup=Setup(preload=("numpy", "repro_no_such_module"))) as sb:
        info = sb.info()
    expected = "docker" if unavailable_reason("docker") is None else "bubblewrap"
    assert info["backend"] == expected and "warning" not in info
    assert info["slots"] == 2 and info["limits"]["memory_bytes"] > 0
    # The APPS task preloads numpy (the reference harness imports it before the program).
    assert info["worker_modules"]["numpy"], "the sandbox python must have numpy"
    assert info["worker_modules"]["repro_no_such_module"] is None


def test_a_command_gets_its_files_stdin_and_payload(bwrap_reason):
    if bwrap_reason:
        pytest.skip(f"bubblewrap unavailable here: {bwrap_reason}")
    with open_sandbox("bubblewrap", slots=1) as sb:
        script = sb.execute({"command": ["python", "run.py"], "stdin": "7\n", "timeout": 5,
                             "files": {"run.py": "print(int(open('d/x.txt').read()) * int(input()))",
                                       "d/x.txt": "6"}})
        call = sb.execute({"command": ["call", "pyscript:compile_check"], "payload": "x = (",
                           "timeout": 5})
        escape = sb.execute({"command": ["python", "main.py"], "files": {"../main.py": "print(1)"},
                             "timeout": 5})
    assert script["status"] == "exited" and script["exit_code"] == 0 and script["stdout"] == "42\n"
    assert call["result"]["ok"] is False and call["result"]["error"].startswith("SyntaxError")
    assert escape["exit_code"] == 70 and "leaves the work directory" in escape["stderr"]


def test_runs_are_isolated_and_deterministic(bwrap_reason):
    if bwrap_reason:
        pytest.skip(f"bubblewrap backend unavailable here: {bwrap_reason}")
    program = ("import os, random\nopen('state', 'a').write('x')\n"
               "print(len(open('state').read()), hash('abc'), os.getuid() != 0)")
    with open_sandbox("bubblewrap", slots=2) as sb:
        outputs = {sb.run(program)["stdout"] for _ in range(4)}
        timed = sb.run("while True: pass", timeout=0.5)
        failed = sb.run("raise SystemExit(5)")
    assert len(outputs) == 1 and outputs.pop().startswith("1 ")  # fresh dir, fixed hash seed
    assert outputs == set() and timed["status"] == "timeout"
    assert failed["exit_code"] == 5


NEEDS_A_TOOL = Setup(needs=(Need("a-tool", programs=("repro-no-such-program",), fix="install a-tool"),))


def test_a_backend_lacking_what_the_work_needs_is_passed_over():
    with pytest.raises(SandboxUnavailable, match=r"needs a-tool .*repro-no-such-program \(fix: install a-tool\)"):
        open_sandbox("bubblewrap", slots=1, setup=NEEDS_A_TOOL)


def test_docker_image_without_a_need_is_not_used_for_it():
    reason = unavailable_reason("docker")
    if reason:
        pytest.skip(f"docker backend unavailable here: {reason}")
    with pytest.raises(SandboxUnavailable, match="provides only"):
        open_sandbox("docker", slots=1, setup=NEEDS_A_TOOL)


def test_lost_worker_is_replaced_for_the_next_program(bwrap_reason):
    """A worker lost during a short-lived thread's request is replaced at once by the pool's
    own spawner thread: bwrap's --die-with-parent would kill a replacement started by the
    short-lived thread as soon as that thread ends, failing the next, unrelated program."""
    import threading
    if bwrap_reason:
        pytest.skip(f"bubblewrap backend unavailable here: {bwrap_reason}")
    with open_sandbox("bubblewrap", slots=1) as sb:
        lost = {}

        def short_lived():
            sb.slots[0].process.popen.kill()  # the worker dies (as after an OOM kill)
            lost.update(sb.run("print(1)"))
        thread = threading.Thread(target=short_lived)
        thread.start()
        thread.join()
        assert lost["status"] == "sandbox-failure"
        after = sb.run("print(2)", timeout=5)
        assert after["status"] == "exited" and after["stdout"] == "2\n", after
        assert sb.info()["restarts"] == 1


def test_a_batch_runs_each_test_in_a_fresh_child(bwrap_reason):
    """A batch request (worker.py) only saves round trips: every test still gets a fresh
    child, a fresh work directory and its files written anew, and its own stdin."""
    if bwrap_reason:
        pytest.skip(f"bubblewrap backend unavailable here: {bwrap_reason}")
    program = ("open('state', 'a').write('x')\nopen('main.py', 'a').write('#')\n"
               "print(len(open('state').read()), len(open('main.py').read()), input())")
    with open_sandbox("bubblewrap", slots=1) as sb:
        answer = sb.execute({"command": ["python", "main.py"], "files": {"main.py": program},
                             "tests": [{"stdin": s} for s in "abc"], "timeout": 5,
                             "compile": program})
        uids = sb.execute({"command": ["python", "main.py"], "timeout": 5,
                           "files": {"main.py": "import os\nprint(os.getuid(), os.getpid())"},
                           "tests": [{}, {}]}, keep=lambda outcome: outcome["stdout"].split())
    outcomes = answer["tests"]
    assert [o["stdout"] for o in outcomes] == [f"1 {len(program) + 1} {s}\n" for s in "abc"]
    assert outcomes[0]["compile"] == {"ok": True, "error": None}
    assert not any("compile" in o for o in outcomes[1:])
    first, second = uids["tests"]  # what `keep` made of each outcome as it arrived
    assert first[0] == second[0] and first[1] != second[1]  # same slot uid, another process


def test_a_batch_stops_at_a_compile_error_and_at_the_budget(bwrap_reason):
    if bwrap_reason:
        pytest.skip(f"bubblewrap backend unavailable here: {bwrap_reason}")
    probe = ("import os\ntry:\n    os.write(4, b'{\"ok\": false, \"error\": \"forged\"}')\n"
             "    print('wrote')\nexcept OSError:\n    print('closed')\n")
    with open_sandbox("bubblewrap", slots=1) as sb:
        bad = sb.execute({"command": ["python", "main.py"], "files": {"main.py": "x = ("},
                          "tests": [{}, {}], "timeout": 5, "compile": "x = ("})["tests"]
        forged = sb.execute({"command": ["python", "main.py"], "files": {"main.py": probe},
                             "tests": [{}], "timeout": 5, "compile": probe})["tests"]
        budget = sb.execute({"command": ["python", "main.py"], "timeout": 5, "budget": 1.5,
                             "files": {"main.py": "import time\ntime.sleep(10)"},
                             "tests": [{}, {}, {}]})["tests"]
    assert len(bad) == 1 and bad[0]["compile"]["ok"] is False
    assert bad[0]["compile"]["error"].startswith("SyntaxError") and bad[0]["stderr"] == ""
    # The report's descriptor is closed before the program runs: it cannot be forged.
    assert forged[0]["compile"] == {"ok": True, "error": None} and forged[0]["stdout"] == "closed\n"
    assert len(budget) == 1 and budget[0]["status"] == "timeout" and budget[0]["time"] < 4


def test_a_lost_worker_loses_only_the_test_it_was_running(bwrap_reason):
    """The rest of the batch runs on the replacement, as if each test were its own request."""
    import threading
    if bwrap_reason:
        pytest.skip(f"bubblewrap backend unavailable here: {bwrap_reason}")
    program = "import time\nn = int(input())\ntime.sleep(n)\nprint(n)"
    with open_sandbox("bubblewrap", slots=1) as sb:
        worker = sb.slots[0].process.popen
        killer = threading.Timer(1.5, worker.kill)  # during the second test
        killer.start()
        answer = sb.execute({"command": ["python", "main.py"], "files": {"main.py": program},
                             "tests": [{"stdin": n} for n in "0900"], "timeout": 20,
                             "compile": program})
        killer.join()
        restarts = sb.info()["restarts"]
    statuses = [o["status"] for o in answer["tests"]]
    assert statuses == ["exited", "sandbox-failure", "exited", "exited"], answer
    assert [o["stdout"] for o in answer["tests"][2:]] == ["0\n", "0\n"] and restarts == 1

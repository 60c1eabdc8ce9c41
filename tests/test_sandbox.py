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

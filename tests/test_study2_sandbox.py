"""HumanEval-X Java solutions as JUnit 4 tests with JaCoCo, inside the bubblewrap sandbox:
a correct and a wrong solution of a bundled problem, and hostile programs contained."""
import socket
import threading
import uuid
from pathlib import Path

import pytest

from repro.data import load_split
from repro.tasks.java_tests.junit import SETUP, check_java_installed, program_files, run_one
from repro.errors import UserError
from repro.sandbox import SandboxUnavailable, open_sandbox

TIMEOUT = 8.0  # seconds per test run here (the study's 30 s is the default)


@pytest.fixture(scope="module")
def sandbox():
    try:
        check_java_installed()
    except UserError as e:
        pytest.skip(f"no JDK/JUnit 4/JaCoCo here ({e}); run `bash .ci/install-java.sh`")
    try:
        sb = open_sandbox("bubblewrap", slots=1, setup=SETUP)
    except SandboxUnavailable as e:
        pytest.skip(f"the bubblewrap sandbox cannot start here: {e}")
    with sb:
        yield sb


@pytest.fixture(scope="module")
def problem():
    return next(r for r in load_split("humaneval-x-java-bundled", "test") if "clamp" in r["declaration"])


def run(sandbox, problem, body):
    return run_one(sandbox, program_files(problem, body), timeout=TIMEOUT)


def test_correct_solution_passes_with_coverage(sandbox, problem):
    r = run(sandbox, problem, problem["canonical_solution"])
    assert r["compiled"] and r["passed"], r
    covered, missed = r["instruction"]
    assert covered > 0 and missed == 0
    assert r["branch"][0] > 0


def test_wrong_solution_fails_with_coverage(sandbox, problem):
    r = run(sandbox, problem, "        return value;\n    }\n}\n")
    assert r["compiled"] and not r["passed"] and r["exit_code"] != 0
    assert "AssertionError" in r["stdout_tail"]
    assert r["instruction"][0] > 0


def test_compile_error_is_a_failure(sandbox, problem):
    r = run(sandbox, problem, "        return undefinedName;\n    }\n}\n")
    assert not r["compiled"] and not r["passed"] and "undefinedName" in r["compile_error"]


def test_infinite_loop_times_out(sandbox, problem):
    r = run(sandbox, problem, "        while (true) { value++; }\n    }\n}\n")
    assert r["timed_out"] and not r["passed"]


def test_system_exit_zero_is_not_a_pass(sandbox, problem):
    r = run(sandbox, problem, "        System.exit(0);\n        return 0;\n    }\n}\n")
    assert r["exit_code"] == 0 and not r["passed"]


@pytest.mark.parametrize("target", ["/tmp/repro-escape-{}", "/work/../repro-escape-{}", "{home}/repro-escape-{}"])
def test_file_writes_outside_the_work_dir_stay_in_the_sandbox(sandbox, problem, target):
    name = target.format(uuid.uuid4().hex, home=str(Path.home())) if "{home}" in target else target.format(uuid.uuid4().hex)
    body = ("        try {\n            java.nio.file.Files.writeString(java.nio.file.Path.of(\"" + name + "\"), \"x\");\n"
            "            System.out.println(\"WROTE\");\n        } catch (Exception e) {\n"
            "            System.out.println(\"DENIED \" + e);\n        }\n"
            "        if (value < low) { return low; }\n        return Math.min(value, high);\n    }\n}\n")
    r = run(sandbox, problem, body)
    assert r["compiled"] and r["passed"], r          # the program goes on after the refused write
    assert "DENIED" in r["stdout_tail"] and "WROTE" not in r["stdout_tail"]
    assert not Path(name).exists() and not Path(name).resolve().exists()


def test_sockets_are_refused(sandbox, problem):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    accepted = []

    def accept():
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    body = ("        try (java.net.Socket s = new java.net.Socket(\"127.0.0.1\", " + str(port) + ")) {\n"
            "            System.out.println(\"CONNECTED\");\n        } catch (Exception e) {\n"
            "            System.out.println(\"REFUSED \" + e);\n        }\n"
            "        if (value < low) { return low; }\n        return Math.min(value, high);\n    }\n}\n")
    try:
        r = run(sandbox, problem, body)
    finally:
        thread.join()
        server.close()
    assert r["compiled"], r
    assert not accepted
    assert "CONNECTED" not in r["stdout_tail"] and "REFUSED" in r["stdout_tail"]

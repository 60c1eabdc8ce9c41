"""APPS programs run INSIDE the sandbox: raw outcomes per test, never a verdict.

The host judges (judge.py); this module only runs. Expected outputs never come here: a
request carries the program, the test inputs and limits, and the answer is what the
program did on each test: the captured output lines or the exception class (standard-
input problems), the return value in the typed encoding of `values.py` or the exception
class (call-based problems).

`paper` runs every test of one program in this one process the way the study's reference
harness does (codeparrot `apps_metric/testing_util.py`, `run_test` and `call_method`): the
program is loaded as module `tmp_sol` under a fixed import header, a standard-input
program's body becomes `def code():`, `sys.stdin` is patched per test, output is captured
from `sys.stdout`, and a 4 s `signal.alarm` raises an ordinary exception. Written from a
reading of that harness (never copied); docs/APPS_VERDICTS.md lists every behaviour.

`strict_call` calls the function of a call-based program loaded as a real `__main__`
module. Standard-input programs in strict mode run as plain scripts (the sandbox's own
`python` command), so they need nothing from here.

Shipped into the sandbox beside `pyscript.py` and `values.py`; standard library only at
import time (numpy is imported where the reference has it).
"""
import io
import os
import signal
import sys
import time
import types

try:  # inside the sandbox these lie beside this file; the host has them in the package
    from pyscript import fresh_main_module, reset_std_streams, short_error
    import values
except ImportError:
    from repro.sandbox.pyscript import fresh_main_module, reset_std_streams, short_error
    from repro.tasks.apps import values

PAPER_HEADER = (
    "import sys\nimport time\nimport itertools\n"
    "from itertools import accumulate, product, permutations, combinations\n"
    "import collections\n"
    "from collections import Counter, OrderedDict, deque, defaultdict, ChainMap\n"
    "from functools import lru_cache\nimport math\n"
    "from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2\n"
    "import fractions\nfrom typing import List, Tuple\nimport numpy as np\n"
    "import random\nimport heapq\nfrom heapq import *\n"
)
CAPTURE_CAP_CHARS = 8 << 20  # captured output sent back per test; the rest is cut (flagged)


def exception_name(exc):
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else "%s.%s" % (kind.__module__, kind.__qualname__)


def value_outcome(value):
    try:
        return {"value": values.encode(value)}
    except values.EncodeError as exc:
        return {"unencodable": str(exc)}


def strict_call(request):
    """Sandbox entry `apps_child:strict_call`: one call-based test, the program loaded as
    a real `__main__` module; the return value (typed) or the exception class."""
    reset_std_streams()
    module = fresh_main_module()
    args = [values.decode(a) for a in request["args"]]
    started = time.monotonic()
    try:
        exec(compile(request["code"], "main.py", "exec"), module.__dict__)
        fn_name = request["fn_name"]
        if isinstance(module.__dict__.get("Solution"), type):
            target = getattr(module.Solution(), fn_name)
        else:
            target = module.__dict__[fn_name]
        outcome = value_outcome(target(*args))
    except BaseException as exc:  # SystemExit too: a function that exits returned nothing
        outcome = {"raised": exception_name(exc), "error": short_error(exc)}
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    outcome["time"] = time.monotonic() - started
    return outcome


# ---- paper mode: the reference harness's execution ----------------------------------
class PaperTimeout(Exception):
    """Raised by SIGALRM, an ordinary Exception exactly as in the reference."""


def on_alarm(signum, frame):
    print("alarm went off")  # lands in the captured output, as in the reference
    raise PaperTimeout


def rewrite_stdin_program(code):
    """Import lines stay at top level, every other line becomes the body of `code()`;
    import lines after the first body line are indented into the body."""
    lines = []
    for line in code.split("\n"):
        is_import = line.startswith("from ") or line.startswith("import ")
        lines.append((line + "\n") if is_import else ("\t" + line + "\n"))
    out, started = "", False
    for line in lines:
        if line.startswith("\t") and not started:
            out += "stdin = sys.stdin\nstdout = sys.stdout\ndef code():\n" + line
            started = True
        elif started and (line.startswith("from ") or line.startswith("import ")):
            out += "\t" + line
        else:
            out += line
    return out


def disable_destructive_functions():
    """The reference harness's reliability guard: these names become None."""
    import builtins
    import shutil
    import subprocess
    builtins.exit = None
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir",
                 "setuid", "fork", "forkpty", "killpg", "rename", "renames", "truncate",
                 "replace", "unlink", "fchmod", "fchown", "chmod", "chown", "chroot",
                 "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


class CapturedLines(list):
    """Replaces sys.stdout by a StringIO (whose close() does nothing); keeps its lines."""

    def __enter__(self):
        self.saved = sys.stdout
        self.buffer = io.StringIO()
        self.buffer.close = lambda *args: 1
        sys.stdout = self.buffer
        return self

    def __exit__(self, *exc):
        self.extend(self.buffer.getvalue().splitlines())
        del self.buffer
        sys.stdout = self.saved


def load_paper_module(code, call_based, timeout):
    """Compile and run the module body under the alarm; any exception is a compile error."""
    source = PAPER_HEADER + (code if call_based else rewrite_stdin_program(code))
    signal.alarm(timeout)
    try:
        module = types.ModuleType("tmp_sol")
        exec(source, module.__dict__)
        target = module.Solution() if (call_based and "class Solution" in code) else module
        signal.alarm(0)
    except Exception as exc:
        signal.alarm(0)
        return None, short_error(exc)
    signal.alarm(0)
    return target, None


def call_with_patched_stdin(function, text):
    """The reference's `call_method`: its stacked `@patch` decorators are entered bottom-up,
    so `read`, `readlines` and `readline` are patched on the ORIGINAL `sys.stdin` object
    first (readline = `next()` over the lines: no newline, StopIteration past the end), and
    only then is `sys.stdin` replaced by a plain StringIO of the input and `open` mocked to
    return it. `input()` and `sys.stdin.readline()` therefore read the StringIO normally;
    a name bound to the original stream at load time (`from sys import stdin`, or the
    `stdin = sys.stdin` line of the rewrite) sees the patched methods. SystemExit is
    swallowed."""
    from contextlib import ExitStack
    from unittest.mock import mock_open, patch
    lines = iter(text.split("\n"))
    with ExitStack() as stack:
        stack.enter_context(patch("sys.stdin.read", lambda *args: text))
        stack.enter_context(patch("sys.stdin.readlines", lambda *args: text.split("\n")))
        stack.enter_context(patch("sys.stdin.readline", lambda *args: next(lines)))
        stack.enter_context(patch("sys.stdin", io.StringIO(text)))
        stack.enter_context(patch("builtins.open", mock_open(read_data=text)))
        try:
            return function()
        except SystemExit:
            pass


def paper(request):
    """Sandbox entry `apps_child:paper`: every test of one program in this process, like
    the reference; per test the raw outcome. {"compile_error": text} when loading fails."""
    code, fn_name = request["code"], request.get("fn_name")
    timeout = int(request.get("per_test_timeout", 4))
    signal.signal(signal.SIGALRM, on_alarm)
    sys.stdin = open(os.devnull)  # the reference's worker process has /dev/null as stdin
    call_based = fn_name is not None
    disable_destructive_functions()
    target, error = load_paper_module(code, call_based, timeout)
    if error is None:
        try:
            method = getattr(target, fn_name if call_based else "code")
        except Exception as exc:
            error = short_error(exc)
    if error is not None:
        return {"compile_error": error}
    tests = []
    for inputs in request["inputs"]:
        started = time.monotonic()
        if call_based:
            outcome = paper_call(method, [values.decode(a) for a in inputs], timeout)
        else:
            outcome = paper_stdin(method, inputs, timeout)
        outcome["time"] = time.monotonic() - started
        tests.append(outcome)
    return {"tests": tests}


def paper_call(method, args, timeout):
    signal.alarm(timeout)
    try:
        output = method(*args)
        signal.alarm(0)
    except Exception as exc:
        signal.alarm(0)
        return {"raised": exception_name(exc), "error": short_error(exc)}
    return value_outcome(output)


def paper_stdin(method, text, timeout):
    signal.alarm(timeout)
    raised = None
    with CapturedLines() as captured:
        try:
            call_with_patched_stdin(method, text)
            signal.alarm(0)
        except Exception as exc:
            signal.alarm(0)
            raised = exc
            print("runtime error or time limit exceeded error = %r" % (exc,))
        signal.alarm(0)
    if raised is not None:
        return {"raised": exception_name(raised), "error": short_error(raised)}
    lines, size = [], 0
    for line in captured:
        size += len(line) + 1
        if size > CAPTURE_CAP_CHARS:
            return {"lines": lines, "truncated": True}
        lines.append(line)
    return {"lines": lines}

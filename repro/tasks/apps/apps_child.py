"""APPS execution semantics inside a sandboxed child process (both verdict modes).

`paper` mode reproduces, behaviour by behaviour, the per-test verdicts of the reference
APPS harness used by the study (codeparrot `apps_metric`, itself hendrycks/apps
`testing_util.py`): the program runs *in-process*, stdin programs are rewritten into the
body of a `code()` function under a fixed import header, stdin is a patched `StringIO`,
output is captured from `sys.stdout`, and the reference's cascade of comparisons decides.
Written from a reading of that harness (never copied); docs/APPS_VERDICTS.md lists every
behaviour with an example.

`strict` mode runs the program as a real script (`__name__ == "__main__"`, no pre-imports,
real `exit()`, real file descriptors) and compares its output line by line.

Shipped into the sandbox beside `pyscript.py` (repro/sandbox/), whose helpers it uses;
the entries the host names in its commands are `paper` and `strict_call`. Standard
library only at import time (numpy is imported where the reference uses it); the host
imports this module too, for `strict_output_matches` (strict script verdicts are decided
on the host from the program's raw output).
"""
import io
import json
import math
import os
import signal
import sys
import time
import types

try:  # inside the sandbox pyscript.py lies beside this file; the host has it in the package
    from pyscript import fresh_main_module, reset_std_streams, short_error
except ImportError:
    from repro.sandbox.pyscript import fresh_main_module, reset_std_streams, short_error

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
STRICT_FLOAT_REL, STRICT_FLOAT_ABS = 1e-6, 1e-6


def paper(request):
    """Sandbox entry `apps_child:paper`: every test of one program, the reference's verdicts."""
    return run_paper(request["code"], request["in_outs"], int(request.get("per_test_timeout", 4)))


def strict_call(request):
    """Sandbox entry `apps_child:strict_call`: one call-based test as a real module: all arguments as JSON gives them, JSON-normal
    comparison (tuples are lists), float tolerance only where the expected value is a float."""
    reset_std_streams()
    module = fresh_main_module()
    started = time.monotonic()
    try:
        exec(compile(request["code"], "main.py", "exec"), module.__dict__)
        fn_name = request["fn_name"]
        if "Solution" in module.__dict__ and isinstance(module.Solution, type):
            target = getattr(module.Solution(), fn_name)
        else:
            target = module.__dict__[fn_name]
        output = target(*request["inputs"])
        normal = json.loads(json.dumps(output))
        verdict = values_match(normal, request["expected"])
        error = None
    except SystemExit as exc:
        verdict, error = -1, "SystemExit(%r)" % (exc.code,)
    except BaseException as exc:
        verdict, error = -1, short_error(exc)
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    return {"verdict": verdict, "error": error, "time": time.monotonic() - started}


def values_match(got, expected):
    if isinstance(expected, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return math.isclose(got, expected, rel_tol=STRICT_FLOAT_REL, abs_tol=STRICT_FLOAT_ABS)
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(values_match(g, e) for g, e in zip(got, expected))
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(values_match(got[k], expected[k]) for k in got)
    return type(got) is type(expected) and got == expected


def is_float_token(token):
    if not any(c in token for c in ".eE") or token.lower() in ("inf", "nan", "-inf", "+inf"):
        return False
    try:
        float(token)
        return True
    except ValueError:
        return False


def strict_lines_match(got_line, expected_line):
    if got_line == expected_line:
        return True
    expected_tokens = expected_line.split()
    if not any(is_float_token(t) for t in expected_tokens):
        return False
    got_tokens = got_line.split()
    if len(got_tokens) != len(expected_tokens):
        return False
    for got, exp in zip(got_tokens, expected_tokens):
        if got == exp:
            continue
        if not is_float_token(exp):
            return False
        try:
            if not math.isclose(float(got), float(exp), rel_tol=STRICT_FLOAT_REL,
                                abs_tol=STRICT_FLOAT_ABS):
                return False
        except ValueError:
            return False
    return True


def strict_output_matches(got, expected):
    """Line by line after stripping trailing whitespace (trailing blank lines ignored)."""
    if isinstance(expected, list):
        expected = "\n".join(expected)
    got_lines = [line.rstrip() for line in got.split("\n")]
    expected_lines = [line.rstrip() for line in expected.split("\n")]
    while got_lines and not got_lines[-1]:
        got_lines.pop()
    while expected_lines and not expected_lines[-1]:
        expected_lines.pop()
    return len(got_lines) == len(expected_lines) and all(
        strict_lines_match(g, e) for g, e in zip(got_lines, expected_lines))


# ---- paper mode: the reference harness's behaviour ---------------------------------
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


def call_with_patched_stdin(function, text):
    """stdin becomes a StringIO whose readline/readlines/read are replaced (readline
    raises StopIteration at the end), `open` returns the input, SystemExit is swallowed."""
    from unittest.mock import mock_open, patch
    lines = iter(text.split("\n"))
    with patch("builtins.open", mock_open(read_data=text)), \
            patch("sys.stdin", io.StringIO(text)), \
            patch("sys.stdin.readline", lambda *args: next(lines)), \
            patch("sys.stdin.readlines", lambda *args: text.split("\n")), \
            patch("sys.stdin.read", lambda *args: text):
        try:
            return function()
        except SystemExit:
            pass


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


def undo_json_int_keys(inputs, outputs, index):
    """JSON keys are strings: the reference turns a dict first argument into {int: v}
    (dropping the other arguments) and does the same to dict expected outputs."""
    try:
        if isinstance(inputs[0], dict):
            inputs = [{int(k): v for k, v in inputs[0].items()}]
    except Exception:
        pass
    try:
        if isinstance(outputs[index], dict):
            outputs[index] = [{int(k): v for k, v in outputs[index].items()}]
    except Exception:
        pass
    try:
        if isinstance(outputs[index][0], dict):
            outputs[index] = [{int(k): v for k, v in outputs[index][0].items()}]
    except Exception:
        pass
    return inputs


def paper_call_verdict(output, expected):
    if isinstance(output, tuple):
        output = list(output)
    verdict = output == expected
    if isinstance(expected, list) and expected:
        verdict = verdict or (output == expected[0])
    try:
        if isinstance(output[0], tuple):
            verdict = verdict or ([list(x) for x in output] == expected[0])
    except Exception:
        pass
    return verdict


def paper_stdout_verdict(output, outputs, index):
    """The reference's comparison cascade for one stdin test. `output` is the list of
    captured lines; `outputs[index]` (already joined into one string) is rewritten in
    place, as the reference does. Returns True/False, or None when the reference
    appends nothing for this test."""
    import numpy as np
    expected = outputs[index]
    if stripped_equal("\n".join(output), expected) or \
            stripped_equal("\n".join(o.strip() for o in output), expected):
        return True
    verdict = False
    try:
        verdict = output == [expected]
        if isinstance(expected, list):
            verdict = verdict or output == expected
            if isinstance(output[0], str):
                verdict = verdict or [e.strip() for e in output] == expected
    except Exception:
        pass
    if verdict is True:
        return True
    if isinstance(expected, list):
        for i, item in enumerate(expected):
            expected[i] = [x.strip() for x in item.split("\n") if x]
    else:
        expected = [x.strip() for x in expected.split("\n") if len(x)]
    outputs[index] = expected
    try:
        verdict = output == [expected] or (isinstance(expected, list) and output == expected)
    except Exception:
        pass
    if verdict is True:
        return True
    output = [line for line in output if len(line)]
    try:
        verdict = output == [expected] or (isinstance(expected, list) and output == expected)
    except Exception:
        pass
    try:
        got_f, exp_f = [float(e) for e in output], [float(e) for e in expected]
        verdict = verdict or (len(got_f) == len(exp_f) and np.allclose(got_f, exp_f))
    except Exception:
        pass
    try:
        if isinstance(output[0], list):
            got_f, exp_f = [float(e) for e in output[0]], [float(e) for e in expected[0]]
            verdict = verdict or (len(got_f) == len(exp_f) and np.allclose(got_f, exp_f))
    except Exception:
        pass
    if verdict is True:
        return True
    if isinstance(expected, list):
        for i, item in enumerate(expected):
            expected[i] = set(item.split())
    else:
        expected = set(expected.split())
    try:
        verdict = output == expected
    except Exception:
        return None
    if verdict is True:
        return True
    token_sets = [set(tokens) for tokens in (line.split() for line in output) if len(tokens)]
    try:
        verdict = set(frozenset(s) for s in token_sets) == set(frozenset(s) for s in expected)
    except Exception:
        pass
    try:
        verdict = verdict or (
            set(frozenset(round(float(t), 3) for t in s) for s in token_sets)
            == set(frozenset(round(float(t), 3) for t in s) for s in expected))
    except Exception:
        pass
    return verdict


def stripped_equal(a, b):
    return a.strip() == b.strip()


def plain_verdict(value):
    """The reference post-processes numpy results (array -> first item, numpy bool -> bool)."""
    try:
        import numpy as np
        if isinstance(value, np.ndarray):
            value = value.item(0)
        if isinstance(value, np.bool_):
            value = bool(value)
    except Exception:
        return False
    if value is True or value is False or value in (-1, -2) and isinstance(value, int):
        return value
    try:
        return bool(value)
    except Exception:
        return False


def run_paper(code, in_outs, timeout):
    """All tests of one program in this one process, like the reference."""
    signal.signal(signal.SIGALRM, on_alarm)
    sys.stdin = open(os.devnull)  # the reference's worker process has /dev/null as stdin
    call_based = in_outs.get("fn_name") is not None
    disable_destructive_functions()
    results, times, errors = [], [], []
    target, error = load_paper_module(code, call_based, timeout)
    if error is None:
        try:
            method = getattr(target, in_outs["fn_name"] if call_based else "code")
        except Exception as exc:
            error = short_error(exc)
    if error is not None:
        return {"results": [-2], "times": [0.0], "errors": [error]}
    outputs = in_outs["outputs"]
    for index, inputs in enumerate(in_outs["inputs"]):
        inputs = undo_json_int_keys(inputs, outputs, index)
        started = time.monotonic()
        verdict, error = run_paper_test(method, inputs, outputs, index, call_based, timeout)
        if verdict is None:
            continue  # the reference skips the append in this one case
        results.append(plain_verdict(verdict))
        times.append(time.monotonic() - started)
        errors.append(error)
    return {"results": results, "times": times, "errors": errors}


def run_paper_test(method, inputs, outputs, index, call_based, timeout):
    if call_based:
        signal.alarm(timeout)
        try:
            output = method(*inputs)
            verdict = paper_call_verdict(output, outputs[index])
            signal.alarm(0)
            return verdict, None
        except Exception as exc:
            signal.alarm(0)
            return -1, short_error(exc)
    signal.alarm(timeout)
    if isinstance(inputs, list):
        inputs = "\n".join(inputs)
    if isinstance(outputs[index], list):
        outputs[index] = "\n".join(outputs[index])
    error = None
    with CapturedLines() as captured:
        try:
            call_with_patched_stdin(method, inputs)
            signal.alarm(0)
        except Exception as exc:
            signal.alarm(0)
            error = short_error(exc)
            print("runtime error or time limit exceeded error = %r" % (exc,))
        signal.alarm(0)
    if error is not None:
        return -1, error
    return paper_stdout_verdict(list(captured), outputs, index), None

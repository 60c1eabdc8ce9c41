"""APPS verdicts: every behaviour of the reference harness, in `paper` and `strict` mode.

Each case is a small program written for the behaviour, its tests, and the verdict list
each mode must give (docs/APPS_VERDICTS.md shows the same cases).
"""
from __future__ import annotations

import json

import pytest

from hostile.backends import unavailable_reason
from repro.tasks.apps.harness import evaluate, open_apps_sandbox
from repro.errors import UserError


STD = {"inputs": ["3 4\n"], "outputs": ["12\n"]}
READ_MUL = "a, b = map(int, input().split())\n"

# name: (program, input_output, paper verdicts, strict verdicts)
CASES = {
    "plain_pass": (READ_MUL + "print(a * b)", STD, [True], [True]),
    "wrong_output": (READ_MUL + "print(a + b)", STD, [False], [False]),
    "main_guard_never_runs": (
        "def main():\n    " + READ_MUL + "    print(a * b)\nif __name__ == '__main__':\n    main()",
        STD, [False], [True]),
    "module_level_global_breaks": (
        READ_MUL + "total = a\ndef times_b():\n    global total\n    total *= b\n"
        "times_b()\nprint(total)", STD, [-1], [True]),
    "future_import_is_compile_error": (
        "from __future__ import annotations\n" + READ_MUL + "print(a * b)", STD, [-2], [True]),
    "failing_import_is_compile_error": (
        "import no_such_module_xyz\n" + READ_MUL + "print(a * b)", STD, [-2], [-1]),
    "syntax_error": ("print(1 +", STD, [-2], [-2]),
    "exit_disabled": (READ_MUL + "print(a * b)\nexit()", STD, [-1], [True]),
    "sys_exit_is_normal_finish": (
        "import sys\n" + READ_MUL + "print(a * b)\nsys.exit(0)", STD, [True], [True]),
    "sys_exit_nonzero": (
        "import sys\n" + READ_MUL + "print(a * b)\nsys.exit(3)", STD, [True], [-1]),
    # testing_util.py `call_method`: stacked @patch decorators enter bottom-up, so
    # read/readlines/readline are patched on the ORIGINAL sys.stdin (the one a load-time
    # `from sys import stdin` bound) before `@patch('sys.stdin', StringIO(inputs))` replaces it.
    "from_sys_import_stdin_sees_patched_readline": (
        "from sys import stdin\na, b = map(int, stdin.readline().split())\nprint(a * b)",
        STD, [True], [True]),
    "stdin_alias_readline_has_no_newline": (
        "from sys import stdin\nprint(len(stdin.readline()))",
        {"inputs": ["ab\n"], "outputs": ["2\n"]}, [True], [False]),
    "sys_stdin_readline_keeps_newline": (
        "import sys\nprint(len(sys.stdin.readline()))",
        {"inputs": ["ab\n"], "outputs": ["3\n"]}, [True], [True]),
    "from_sys_import_stdout_escapes_capture": (
        "from sys import stdout\n" + READ_MUL + "stdout.write(str(a * b) + '\\n')",
        STD, [False], [True]),
    "stdin_buffer_missing": (
        "import sys\na, b = map(int, sys.stdin.buffer.read().split())\nprint(a * b)",
        STD, [-1], [True]),
    # call_method: `sys.stdin` itself is a plain StringIO, whose readline gives '' at the end.
    "readline_past_end_is_empty": (
        "import sys\na, b = map(int, sys.stdin.readline().split())\n"
        "sys.stdin.readline()\nsys.stdin.readline()\nprint(a * b)", STD, [True], [True]),
    "extra_spaces_and_tabs": (
        "print('3  4')\nprint('5\\t6')", {"inputs": [""], "outputs": ["3 4\n\n5 6\n"]},
        [True], [True]),
    "open_zero_reads_input": (
        "a, b = map(int, open(0).read().split())\nprint(a * b)", STD, [True], [True]),
    "trailing_whitespace": (READ_MUL + "print(a * b, '  ')\nprint()", STD, [True], [True]),
    "set_of_sets_ignores_order": (
        "print('4 3')\nprint('2 1')", {"inputs": [""], "outputs": ["1 2\n3 4\n"]},
        [True], [False]),
    "allclose_float_lines": (
        "print('0.333336')", {"inputs": [""], "outputs": ["0.333333\n"]}, [True], [False]),
    "int_expected_float_printed": (
        "print('3.0')", {"inputs": [""], "outputs": ["3\n"]}, [True], [True]),
    "case_is_kept": ("print('yes')", {"inputs": [""], "outputs": ["YES\n"]}, [False], [False]),
    "three_decimal_rounding": (
        "print('2.5 1.0002')", {"inputs": [""], "outputs": ["1.0001 2.5\n"]}, [True], [False]),
    "os_exit_loses_everything": (
        "import os\n" + READ_MUL + "print(a * b)\nos._exit(0)", STD, [-1], [False]),
    "alarm_message_in_captured_output": (
        "import time\ntry:\n    time.sleep(3)\nexcept BaseException:\n    pass\nprint(12)",
        STD, [False], [-1]),
    # call-based problems
    "call_function": ("def mul(a, b):\n    return a * b",
                      {"inputs": [[3, 4]], "outputs": [12], "fn_name": "mul"}, [True], [True]),
    "call_class_solution": (
        "class Solution:\n    def mul(self, a, b):\n        return a * b\n",
        {"inputs": [[3, 4]], "outputs": [12], "fn_name": "mul"}, [True], [True]),
    "call_tuple_becomes_list": (
        "def pair(a, b):\n    return (a, b)",
        {"inputs": [[3, 4]], "outputs": [[3, 4]], "fn_name": "pair"}, [True], [True]),
    "call_first_element_of_expected": (
        "def mul(a, b):\n    return a * b",
        {"inputs": [[3, 4]], "outputs": [[12]], "fn_name": "mul"}, [True], [True]),
    "call_wrapped_answer_returned_as_is": (
        "def mul(a, b):\n    return [a * b]",
        {"inputs": [[3, 4]], "outputs": [[12]], "fn_name": "mul"}, [True], [False]),
    "call_dict_argument_int_keys": (
        "def total(d):\n    return sum(d)",
        {"inputs": [[{"1": 0, "2": 0}]], "outputs": [3], "fn_name": "total"}, [True], [True]),
    "call_dict_argument_drops_others": (
        "def pick(d, k):\n    return d[k]",
        {"inputs": [[{"1": 5}, "1"]], "outputs": [5], "fn_name": "pick"}, [-1], [-1]),
    "call_genuine_one_element_list": (
        "def head(xs):\n    return xs[:1]",
        {"inputs": [[[1, 2]], [[7]]], "outputs": [[[1]], [[7]]], "fn_name": "head"},
        [True, True], [True, True]),
    "call_numpy_scalar_returned": (
        "import numpy\ndef mul(a, b):\n    return numpy.int64(a) * b",
        {"inputs": [[3, 4]], "outputs": [[12]], "fn_name": "mul"}, [True], [True]),
    "call_int_returned_for_bool": (
        "def odd(n):\n    return n % 2",
        {"inputs": [[3]], "outputs": [[True]], "fn_name": "odd"}, [True], [False]),
    "call_object_with_own_eq": (
        "class Any:\n    def __eq__(self, other):\n        return True\n"
        "def mul(a, b):\n    return Any()",
        {"inputs": [[3, 4]], "outputs": [[12]], "fn_name": "mul"}, [False], [False]),
    "call_plain_equality_on_floats": (
        "def f():\n    return 0.1 + 0.2", {"inputs": [[]], "outputs": [0.3], "fn_name": "f"},
        [False], [True]),
    "call_top_level_code_runs_at_load": (
        "print(int(input()))\ndef mul(a, b):\n    return a * b",
        {"inputs": [[3, 4]], "outputs": [12], "fn_name": "mul"}, [-2], [-1]),
}


@pytest.fixture(scope="module")
def sandbox():
    reason = unavailable_reason("bubblewrap")
    if reason:
        pytest.skip(f"bubblewrap backend unavailable here: {reason}")
    with open_apps_sandbox("bubblewrap", slots=2) as sb:
        yield sb


def problems_and_samples(cases):
    problems, samples = {}, []
    for i, (name, (code, io, _, _)) in enumerate(cases.items()):
        problems[name] = {"problem_id": name, "input_output": json.dumps(io),
                          "difficulty": "introductory"}
        samples.append({"problem_id": name, "sample": 0, "code": code})
    return problems, samples


@pytest.mark.parametrize("mode", ["paper", "strict"])
def test_every_behaviour(sandbox, mode):
    problems, samples = problems_and_samples(CASES)
    records = evaluate(samples, problems, mode=mode, sandbox=sandbox, progress=False,
                       per_test_timeout=1)
    wrong = {}
    for (name, (_, _, paper, strict)), record in zip(CASES.items(), records):
        want = paper if mode == "paper" else strict
        assert record["mode"] == mode and record["problem_id"] == name
        assert len(record["times"]) == len(record["results"]) == len(record["errors"])
        if record["results"] != want:
            wrong[name] = (record["results"], want, record["errors"])
    assert not wrong, wrong


def test_per_test_timeout(sandbox):
    problems, samples = problems_and_samples({"slow": (
        "import time\ntime.sleep(5)\nprint(12)", STD, None, None)})
    for mode in ("paper", "strict"):
        record = evaluate(samples, problems, mode=mode, sandbox=sandbox, progress=False,
                          per_test_timeout=1)[0]
        assert record["results"] == [-1], (mode, record)
        assert record["times"][0] < 3


def test_global_timeout_fails_every_test_in_paper_mode(sandbox):
    # Each test passes alone in 3 s; four of them exceed the reference's 10 + 1 s.
    io = {"inputs": ["3 4\n"] * 4, "outputs": ["12\n"] * 4}
    problems, samples = problems_and_samples({"slowish": (
        "import time\ntime.sleep(3)\n" + READ_MUL + "print(a * b)", io, None, None)})
    paper = evaluate(samples, problems, mode="paper", sandbox=sandbox, progress=False)[0]
    assert paper["results"] == [-1, -1, -1, -1]
    assert paper["errors"] == ["global timeout"] * 4
    strict = evaluate(samples, problems, mode="strict", sandbox=sandbox, progress=False)[0]
    assert strict["results"][:3] == [True, True, True] and strict["results"][3] == -1


def test_record_format(sandbox):
    problems, samples = problems_and_samples({"ok": (READ_MUL + "print(a * b)", STD, 0, 0)})
    samples[0]["sample"] = 3
    record = evaluate(samples, problems, mode="paper", sandbox=sandbox, progress=False)[0]
    assert set(record) == {"problem_id", "difficulty", "sample", "mode", "results", "times",
                           "errors", "live_objects", "judge_errors"}
    assert record["sample"] == 3 and record["difficulty"] == "introductory"
    assert isinstance(record["times"][0], float) and record["errors"] == [None]
    json.dumps(record)


def test_bad_input_names_the_field(sandbox):
    problems, samples = problems_and_samples({"ok": (READ_MUL, STD, 0, 0)})
    with pytest.raises(UserError, match="mode"):
        evaluate(samples, problems, mode="lenient", sandbox=sandbox, progress=False)
    with pytest.raises(UserError, match=r"samples\[0\].code"):
        evaluate([{"problem_id": "ok", "sample": 0}], problems, sandbox=sandbox)
    with pytest.raises(UserError, match="not among the loaded problems"):
        evaluate([{"problem_id": "nope", "sample": 0, "code": ""}], problems, sandbox=sandbox)
    broken = {"ok": {**problems["ok"], "input_output": "{not json"}}
    with pytest.raises(UserError, match="input_output"):
        evaluate(samples, broken, sandbox=sandbox, progress=False)
    with pytest.raises(UserError, match="sandbox"):
        evaluate(samples, problems, sandbox=None)

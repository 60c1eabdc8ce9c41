"""The APPS judge on the host (no sandbox needed): the typed value encoding, strict mode's
rules, what a malformed or forged outcome record gets, judge errors, and that no request
ever carries an expected output.

Paper-mode verdicts are checked end to end against programs in tests/test_apps_exec.py.
"""
from __future__ import annotations

import json
import math
from collections import Counter, OrderedDict, deque
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from repro.tasks.apps import harness, judge, values


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 10 ** 5000, 1.5, -0.0, math.inf, "tab\there", "",
    [1, [2, (3, 4)]], (1,), {1: "a", "1": "b", (2, 3): None}, {1, 2}, frozenset({"x"}),
    deque([1]), OrderedDict(b=1, a=2), Counter("aab"), Fraction(1, 3), Decimal("0.10"),
    complex(1, -2), b"\x00\xff", range(1, 10, 3),
    np.int64(12), np.float32(0.1), np.bool_(True), np.array([[1, 2], [3, 4]], dtype=np.int16),
    np.array([0.5, 1.5]), np.array(["ab", "c"]),
], ids=lambda value: type(value).__name__)
def test_encoding_round_trips_value_and_type(value):
    tree = json.loads(json.dumps(values.encode(value)))  # what crosses the protocol
    back = values.decode(tree)
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape and (back == value).all()
    else:
        assert back == value or (value != value and back != back)


def test_nan_and_opaque_objects():
    assert math.isnan(values.decode(values.encode(math.nan)))

    class Anything:
        def __eq__(self, other):
            return True
    tree = values.encode([Anything()])
    assert tree[1][0][0] == "opaque"
    back = values.decode(tree)
    assert back != [12] and not (back[0] == 12) and values.contains_opaque(back)


@pytest.mark.parametrize("tree", [
    "x", [], ["pickle", "cos\nsystem\n"], ["int", "12"], ["int", 12], ["bool", 1],
    ["list", "abc"], ["dict", [[["int", "0x1"]]]], ["ndarray", "<i8", [3], [["int", "0x1"]]],
    ["set", [["list", []]]],
])
def test_malformed_trees_are_refused(tree):
    with pytest.raises(values.DecodeError):
        values.decode(tree)


@pytest.mark.parametrize("got,expected,ok", [
    ("3 4\n", "3 4\n", True), ("3  4", "3 4\n", True), ("3\t4\n\n\n", "3 4", True),
    ("3\n4\n", "3 4\n", True), ("5.0\n", "5\n", True), ("0.1000001", "0.1", True),
    ("0.333336", "0.333333", False), ("1e-7", "0", True), ("YES", "yes", False),
    ("12345678901234567890", "12345678901234567891", False), ("3 4 5", "3 4", False),
    ("nan", "nan", True), ("inf", "1e400", False), ("-0", "0", True), ("1,5", "1.5", False),
])
def test_strict_tokens(got, expected, ok):
    assert judge.strict_output_matches(got, expected) is ok


def test_strict_call_decoding_is_per_problem():
    # Every output a one-element list: the dataset's wrapping, unwrapped.
    assert judge.strict_expected([[[1]], [5]]) == [[1], 5]
    # Not every output: the answers are taken as they are.
    assert judge.strict_expected([[[1]], [5, 6]]) == [[[1]], [5, 6]]
    assert judge.strict_expected([[{"1": 2, "30": [{"4": 5}]}]]) == [{1: 2, 30: [{4: 5}]}]
    assert judge.strict_expected([[{"a": 1}]]) == [{"a": 1}]
    args = judge.strict_args([[{"1": 2}, "1"]])
    assert [values.decode(a) for a in args[0]] == [{1: 2}, "1"]


@pytest.mark.parametrize("got,want,ok", [
    ((1, 2), [1, 2], True), (np.array([1, 2]), [1, 2], True), (np.int64(3), 3, True),
    (3.0000001, 3, True), (True, 1, False), (1, True, False), ([1], 1, False),
    ({1: 2}, {1: 2}, True), ({"1": 2}, {1: 2}, False), ({1, 2}, [1, 2], False),
])
def test_strict_values(got, want, ok):
    outcome = {"value": values.encode(got)}
    assert judge.strict_call_test(outcome, want)[0] is ok


class FakeSandbox:
    """Answers every request with a canned worker answer and remembers the requests; a
    batch (strict mode) gets that answer for each of its tests, the first one also saying
    that the program compiles, as the worker's batch protocol does (sandbox/base.py)."""

    def __init__(self, answer):
        self.answer, self.requests = answer, []
        self.slots = [None]

    def execute(self, request, keep=None):
        self.requests.append(request)
        answer = self.answer(request) if callable(self.answer) else self.answer
        outcome = {"status": "exited", "exit_code": 0, "time": 0.01, "stdout": "", "stderr": "",
                   **answer}
        if "tests" not in request:
            return outcome
        tests = [dict(outcome) for _ in request["tests"]]
        if "compile" in request:
            tests[0]["compile"] = {"ok": True, "error": None}
        return {"tests": self.delivered(tests, keep)}

    @staticmethod
    def delivered(tests, keep):
        return [keep(t) for t in tests] if keep else tests


STDIN = {"inputs": ["3 4\n"], "outputs": ["12\n"]}
CALL = {"inputs": [[3, 4]], "outputs": [[12]], "fn_name": "mul"}


@pytest.mark.parametrize("result", [
    {"results": [True], "times": [0.0], "errors": [None]},          # a verdict-shaped forgery
    {"tests": [{"verdict": True}]}, {"tests": []}, {"tests": [{"lines": "12"}]},
    {"tests": [{"lines": ["12"]}, {"lines": ["12"]}]}, {"unparsable": "{..."}, None,
    {"tests": [{"lines": ["12"]}], "extra": 1},
])
def test_paper_malformed_records_fail_the_program(result):
    record = harness.evaluate_paper(FakeSandbox({"result": result}), "x", STDIN, 4)
    assert record["results"] == [-1]
    assert record["judge_errors"] == 0


def test_paper_call_malformed_value_fails_the_program():
    forged = {"tests": [{"value": ["pickle", "..."]}]}
    record = harness.evaluate_paper(FakeSandbox({"result": forged}), "x", CALL, 4)
    assert record["results"] == [-1] and "malformed" in record["errors"][0]


def test_strict_forged_call_records_fail_the_program():
    forged = {"result": {"verdict": True, "results": [True]}}
    record = harness.evaluate_strict(FakeSandbox(forged), "x", CALL, 4)
    assert record["results"] == [-1]


def test_strict_compile_report_decides_compile_errors():
    """-2 only from the compile report of the worker's first child (a descriptor closed
    before the program runs), or when that child dies before it reports."""
    class Reporting(FakeSandbox):
        def __init__(self, report):
            super().__init__({"stdout": "12\n"})
            self.report = report

        def execute(self, request, keep=None):
            answer = super().execute(request)
            if self.report is None:
                del answer["tests"][0]["compile"]
                answer["tests"][0].update(status="timeout", exit_code=None)
            else:
                answer["tests"][0]["compile"] = self.report
            ended = answer["tests"][:1] if self.report is None or not self.report["ok"] else answer["tests"]
            return {"tests": self.delivered(ended, keep)}
    bad = harness.evaluate_strict(Reporting({"ok": False, "error": "SyntaxError: x"}), "(", STDIN, 4)
    assert bad["results"] == [-2] and bad["errors"] == ["SyntaxError: x"]
    died = harness.evaluate_strict(Reporting(None), "x", STDIN, 4)
    assert died["results"] == [-2] and died["errors"] == ["timeout"]
    good = harness.evaluate_strict(Reporting({"ok": True, "error": None}), "print(12)", STDIN, 4)
    assert good["results"] == [True]


def test_strict_tests_past_the_budget_fail():
    class Budgeted(FakeSandbox):
        def execute(self, request, keep=None):
            answer = super().execute(request)
            # the worker ran no test past the budget
            return {"tests": self.delivered(answer["tests"][:1], keep)}
    two = {"inputs": ["3 4\n"] * 2, "outputs": ["12\n"] * 2}
    sandbox = Budgeted({"stdout": "12\n"})
    record = harness.evaluate_strict(sandbox, "print(12)", two, 4)
    assert record["results"] == [True, -1] and record["errors"][1] == "program time budget spent"
    assert sandbox.requests[0]["budget"] == harness.PROGRAM_TIMEOUT


def test_judge_error_is_its_own_code_and_counted(monkeypatch):
    def broken(*args):
        raise RuntimeError("judge bug")
    monkeypatch.setattr(judge, "strict_output_matches", broken)
    record = harness.evaluate_strict(FakeSandbox({"stdout": "12\n"}), "print(12)", STDIN, 4)
    assert record["results"] == [judge.JUDGE_ERROR] and record["judge_errors"] == 1
    monkeypatch.setattr(judge, "paper_stdout_verdict", broken)
    ok = {"result": {"tests": [{"lines": ["12"], "time": 0.1}]}}
    record = harness.evaluate_paper(FakeSandbox(ok), "print(12)", STDIN, 4)
    assert record["results"] == [judge.JUDGE_ERROR] and record["judge_errors"] == 1


def test_live_objects_are_counted():
    class Anything:
        def __eq__(self, other):
            return True
    outcome = {"tests": [{"value": values.encode(Anything()), "time": 0.1}]}
    record = harness.evaluate_paper(FakeSandbox({"result": outcome}), "x", CALL, 4)
    assert record["results"] == [False] and record["live_objects"] == 1


@pytest.mark.parametrize("mode", ["paper", "strict"])
@pytest.mark.parametrize("io", [
    {"inputs": ["3 4\n"], "outputs": ["EXPECTED-77e1\n"]},
    {"inputs": [[3, 4]], "outputs": [["EXPECTED-77e1"]], "fn_name": "mul"},
])
def test_no_request_carries_an_expected_output(mode, io):
    sandbox = FakeSandbox({"result": None})
    problems = {"p": {"problem_id": "p", "difficulty": "interview", "input_output": json.dumps(io)}}
    harness.evaluate([{"problem_id": "p", "sample": 0, "code": "pass"}], problems, mode=mode,
                     sandbox=sandbox, progress=False)
    assert sandbox.requests and not any("77e1" in json.dumps(r) for r in sandbox.requests)

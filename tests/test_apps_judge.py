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
    """Answers every request with a canned worker answer and remembers the requests."""

    def __init__(self, answer):
        self.answer, self.requests = answer, []
        self.slots = [None]

    def execute(self, request):
        self.requests.append(request)
        answer = self.answer(request) if callable(self.answer) else self.answer
        return {"status": "exited", "exit_code": 0, "time": 0.01, "stdout": "", "stderr": "",
                **answer}


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
    def answer(request):
        if request["command"][1] == "pyscript:compile_check":
            return {"result": {"ok": True, "error": None}}
        return {"result": {"verdict": True, "results": [True]}}
    record = harness.evaluate_strict(FakeSandbox(answer), "x", CALL, 4)
    assert record["results"] == [-1]


def test_judge_error_is_its_own_code_and_counted(monkeypatch):
    def broken(*args):
        raise RuntimeError("judge bug")
    monkeypatch.setattr(judge, "strict_output_matches", broken)
    def answer(request):
        if request["command"][0] == "call":
            return {"result": {"ok": True, "error": None}}
        return {"stdout": "12\n"}
    record = harness.evaluate_strict(FakeSandbox(answer), "print(12)", STDIN, 4)
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

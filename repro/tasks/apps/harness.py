"""APPS test execution on top of the sandbox: per-test verdicts in `paper` or `strict` mode.

Owns the host side of the APPS harness: turning (sample, problem) pairs into sandbox
requests that carry the program and the test inputs (never the expected outputs), the
per-program time limits, checking the raw outcome records that come back, and the result
records of `apps_results.jsonl`. The sandbox only runs (`apps_child.py`, shipped with
`values.py` by `SETUP`); the verdicts are decided here by `judge.py`.
docs/APPS_VERDICTS.md shows every behaviour with its verdict in both modes.

Per-test result: True (passed), False (wrong output), -1 (runtime error, timeout, crash or
a malformed outcome record), -2 (compile error; the whole `results` list is then `[-2]`),
-3 (judge error: the judge failed, not the program; counted as `judge_errors`). Each
record also counts `live_objects`: call-based tests whose returned object only its own
`__eq__` could compare (judged unequal, see values.py).
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor, as_completed

from pathlib import Path

from repro.errors import UserError
from repro.sandbox import Setup, open_sandbox

from . import judge
from .metrics import MODES

# The in-sandbox half: apps_child.py beside the worker; unittest.mock and numpy warm in the
# worker before any fork, as the reference harness has them imported before the program.
SETUP = Setup(files={name: Path(__file__).with_name(name) for name in ("apps_child.py", "values.py")},
              preload=("unittest.mock", "apps_child", "numpy"))
FULL_STDOUT = 1 << 30  # strict mode compares all of it (RLIMIT_FSIZE caps it far lower)
PAPER_GLOBAL_TIMEOUT = 10.0 + 1.0  # the reference's TIMEOUT = 10, joined with timeout + 1
PROGRAM_TIMEOUT = PAPER_GLOBAL_TIMEOUT


def parse_in_outs(problem: dict, where: str) -> dict:
    raw = problem.get("input_output")
    try:
        in_outs = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise UserError(f"input_output is not valid JSON ({exc})", file=where,
                        field="input_output", expected='a JSON string {"inputs": [...], '
                        '"outputs": [...], "fn_name"?: str}', fix="use the APPS row unchanged")
    if not isinstance(in_outs, dict) or not isinstance(in_outs.get("inputs"), list) \
            or not isinstance(in_outs.get("outputs"), list) \
            or len(in_outs["inputs"]) != len(in_outs["outputs"]):
        raise UserError("input_output needs lists 'inputs' and 'outputs' of equal length",
                        file=where, field="input_output",
                        fix="use the APPS row unchanged; drop problems without tests")
    return in_outs


def open_apps_sandbox(backend: str = "auto", **kwargs):
    """A sandbox that can run APPS programs (the APPS half of the harness inside)."""
    return open_sandbox(backend, setup=SETUP, **kwargs)


def failed_everywhere(n_tests: int, error: str) -> dict:
    return {"results": [-1] * n_tests, "times": [None] * n_tests, "errors": [error] * n_tests,
            "live_objects": 0, "judge_errors": 0}


def death_reason(answer: dict, timeout_label: str = "timeout") -> str:
    if answer.get("status") == "timeout":
        return timeout_label
    if answer.get("signal"):
        return f"killed by signal {answer['signal']}"
    if answer.get("status") == "sandbox-failure":
        return answer.get("error", "sandbox failure")
    tail = (answer.get("stderr") or "").strip().splitlines()
    return (tail[-1] if tail else f"exit code {answer.get('exit_code')}")[:200]


def malformed(n_tests: int, why: str) -> dict:
    return failed_everywhere(n_tests, f"malformed outcome record: {why}")


def evaluate_paper(sandbox, code: str, in_outs: dict, per_test_timeout: float) -> dict:
    """One child runs every test, like the reference's one process per program; if it
    does not report within the global limit (or dies), every test is -1. The host judges
    each test from its raw outcome (judge.py)."""
    n_tests = len(in_outs["inputs"])
    call_based = in_outs.get("fn_name") is not None
    answer = sandbox.execute({"command": ["call", "apps_child:paper"],
                              "payload": {"code": code, "fn_name": in_outs.get("fn_name"),
                                          "inputs": [judge.paper_inputs(i, call_based)
                                                     for i in in_outs["inputs"]],
                                          "per_test_timeout": int(per_test_timeout)},
                              "timeout": PAPER_GLOBAL_TIMEOUT, "return_stdout": 0})
    result = answer.get("result")
    if answer.get("status") != "exited" or answer.get("exit_code") != 0 \
            or not isinstance(result, dict):
        return failed_everywhere(n_tests, death_reason(answer, "global timeout"))
    if set(result) == {"compile_error"} and isinstance(result["compile_error"], str):
        return {"results": [-2], "times": [0.0], "errors": [result["compile_error"]],
                "live_objects": 0, "judge_errors": 0}
    tests = result.get("tests")
    if set(result) != {"tests"} or not isinstance(tests, list) or len(tests) != n_tests:
        return malformed(n_tests, "not one outcome per test")
    try:
        tests = [judge.check_outcome(t, call_based) for t in tests]
    except ValueError as exc:
        return malformed(n_tests, str(exc)[:200])
    out = {"results": [], "times": [], "errors": [], "live_objects": 0, "judge_errors": 0}
    for index, outcome in enumerate(tests):
        try:
            verdict, error, live = judge.paper_test(outcome, in_outs["outputs"], index, call_based)
        except Exception as exc:  # a judge bug, never the program's failure
            verdict, error, live = judge.JUDGE_ERROR, f"judge error: {exc!r}"[:300], False
        if verdict is None:
            continue  # the reference appends nothing for this test
        out["results"].append(verdict)
        out["times"].append(outcome.get("time") if isinstance(outcome.get("time"), float) else None)
        out["errors"].append(error)
        out["live_objects"] += live
        out["judge_errors"] += type(verdict) is int and verdict == judge.JUDGE_ERROR
    return out


def strict_call_verdict(answer: dict, want) -> tuple:
    result = answer.get("result")
    if answer.get("status") != "exited" or answer.get("exit_code") != 0:
        return -1, answer.get("time"), death_reason(answer), False
    try:
        outcome = judge.check_outcome(result, call_based=True)
    except ValueError as exc:
        return -1, answer.get("time"), f"malformed outcome record: {exc}"[:300], False
    try:
        verdict, error, live = judge.strict_call_test(outcome, want)
    except Exception as exc:  # a judge bug, never the program's failure
        verdict, error, live = judge.JUDGE_ERROR, f"judge error: {exc!r}"[:300], False
    return verdict, answer.get("time"), error, live


def strict_script_verdict(answer: dict, expected) -> tuple:
    expected_text = "\n".join(expected) if isinstance(expected, list) else str(expected)
    if answer.get("status") != "exited" or answer.get("exit_code") != 0:
        return -1, answer.get("time"), death_reason(answer), False
    try:
        verdict = judge.strict_output_matches(answer["stdout"], expected_text)
        return verdict, answer["time"], None, False
    except Exception as exc:  # a judge bug, never the program's failure
        return judge.JUDGE_ERROR, answer.get("time"), f"judge error: {exc!r}"[:300], False


def strict_request(code: str, in_outs: dict) -> dict:
    """One batch request for all the tests of a program (sandbox/worker.py): each test
    still runs in its own fresh child, as a standalone script for standard-input problems;
    the batch only saves a round trip per test, and the first test's child checks that
    the program compiles (a separate request per program before)."""
    fn_name = in_outs.get("fn_name")
    if fn_name:
        return {"command": ["call", "apps_child:strict_call"], "return_stdout": 0,
                "tests": [{"payload": {"code": code, "fn_name": fn_name, "args": args}}
                          for args in judge.strict_args(in_outs["inputs"])]}
    return {"command": ["python", "main.py"], "files": {"main.py": code},
            "return_stdout": FULL_STDOUT,
            "tests": [{"stdin": "\n".join(i) if isinstance(i, list) else str(i)}
                      for i in in_outs["inputs"]]}


def evaluate_strict(sandbox, code: str, in_outs: dict, per_test_timeout: float) -> dict:
    """A fresh script process per test; tests after the program's time budget
    (PROGRAM_TIMEOUT, the sum of the tests' times) is spent get -1 (earlier verdicts stand).
    Each test is judged as its outcome arrives, so only its verdict stays in memory."""
    fn_name = in_outs.get("fn_name")
    wants = judge.strict_expected(in_outs["outputs"]) if fn_name else in_outs["outputs"]
    verdict_of = strict_call_verdict if fn_name else strict_script_verdict
    first: dict = {"count": 0}

    def judged(outcome: dict) -> tuple:
        index = first["count"]
        first["count"] += 1
        if index == 0:  # the first test's child also says whether the program compiles
            first["check"] = outcome.get("compile") if isinstance(outcome.get("compile"), dict) else {}
            first["time"], first["death"] = outcome.get("time"), death_reason(outcome)
        if index >= len(wants):
            return -1, outcome.get("time"), "malformed outcome record: more outcomes than tests", False
        return verdict_of(outcome, wants[index])

    answer = sandbox.execute({**strict_request(code, in_outs), "compile": code,
                              "timeout": per_test_timeout, "budget": PROGRAM_TIMEOUT}, keep=judged)
    verdicts = answer.get("tests") if isinstance(answer.get("tests"), list) else []
    if not verdicts or first.get("check", {}).get("ok") is not True:
        return {"results": [-2], "times": [first.get("time")],
                "errors": [str(first.get("check", {}).get("error") or first.get("death")
                               or "no outcome")[:300]],
                "live_objects": 0, "judge_errors": 0}
    out = {"results": [], "times": [], "errors": [], "live_objects": 0, "judge_errors": 0}
    for index in range(len(wants)):
        if index < len(verdicts):
            verdict, seconds, error, live = verdicts[index]
        else:  # the worker started no test once the budget was spent
            verdict, seconds, error, live = -1, None, "program time budget spent", False
        out["results"].append(verdict)
        out["times"].append(seconds)
        out["errors"].append(error)
        out["live_objects"] += live
        out["judge_errors"] += type(verdict) is int and verdict == judge.JUDGE_ERROR
    return out


def evaluate_one(sample: dict, problem: dict, mode: str, sandbox, per_test_timeout: float,
                 where: str) -> dict:
    in_outs = parse_in_outs(problem, where)
    run = evaluate_paper if mode == "paper" else evaluate_strict
    verdicts = run(sandbox, sample["code"], in_outs, per_test_timeout)
    return {"problem_id": str(sample["problem_id"]), "difficulty": problem.get("difficulty"),
            "sample": int(sample["sample"]), "mode": mode, **verdicts}


def check_samples(samples: list[dict], problems: dict[str, dict]) -> None:
    for i, sample in enumerate(samples):
        for field in ("problem_id", "sample", "code"):
            if field not in sample:
                raise UserError(f"sample {i} has no '{field}'", field=f"samples[{i}].{field}",
                                expected='{"problem_id": str, "sample": int, "code": str}',
                                fix="write samples in that shape")
        if not isinstance(sample["code"], str):
            raise UserError(f"sample {i}: code is not a string", field=f"samples[{i}].code",
                            fix="store the generated program as a string")
        if str(sample["problem_id"]) not in problems:
            raise UserError(f"sample {i} names problem {sample['problem_id']!r}, which is not "
                            "among the loaded problems", field=f"samples[{i}].problem_id",
                            fix="load the APPS split the samples were generated for")


def evaluate(samples: list[dict], problems: dict[str, dict], *, mode: str = "paper",
             sandbox=None, per_test_timeout: float = 4.0, progress: bool = True) -> list[dict]:
    """Run every sample's program on its problem's tests inside `sandbox`; one record per
    sample, in the order of `samples` (the apps_results.jsonl record format)."""
    if mode not in MODES:
        raise UserError(f"unknown APPS verdict mode {mode!r}", field="mode",
                        expected=" | ".join(MODES), fix="use 'paper' to reproduce the study")
    if sandbox is None:
        raise UserError("APPS programs only run inside a sandbox", field="sandbox",
                        fix="pass sandbox=open_apps_sandbox(...)")
    problems = {str(k): v for k, v in problems.items()}
    check_samples(samples, problems)
    from tqdm import tqdm
    records: list[dict | None] = [None] * len(samples)
    workers = max(1, len(getattr(sandbox, "slots", [None])))
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(samples), desc=f"APPS ({mode})", unit="program",
                 disable=not progress) as bar:
        futures = {pool.submit(evaluate_one, s, problems[str(s["problem_id"])], mode, sandbox,
                               per_test_timeout, f"problem {s['problem_id']}"): i
                   for i, s in enumerate(samples)}
        for future in as_completed(futures):
            records[futures[future]] = future.result()
            bar.update(1)
    return records

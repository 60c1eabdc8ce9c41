"""APPS test execution on top of the sandbox: per-test verdicts in `paper` or `strict` mode.

Owns the host side of the APPS harness: turning (sample, problem) pairs into sandbox
requests, the per-program time limits, strict mode's output comparison (on the host, from
the program's raw stdout) and the result records of `apps_results.jsonl`. What happens
*inside* the sandbox for each mode is in `apps_child.py` beside this file (shipped into
the sandbox by `SETUP`); docs/APPS_VERDICTS.md shows every behaviour with its verdict in
both modes.

Per-test result: True (passed), False (wrong output), -1 (runtime error or timeout),
-2 (compile error; the whole `results` list is then `[-2]`).
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor, as_completed

from pathlib import Path

from repro.errors import UserError
from repro.sandbox import Setup, open_sandbox

from .apps_child import strict_output_matches
from .metrics import MODES

# The in-sandbox half: apps_child.py beside the worker; unittest.mock and numpy warm in the
# worker before any fork, as the reference harness has them imported before the program.
SETUP = Setup(files={"apps_child.py": Path(__file__).with_name("apps_child.py")},
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
    return {"results": [-1] * n_tests, "times": [None] * n_tests, "errors": [error] * n_tests}


def death_reason(answer: dict, timeout_label: str = "timeout") -> str:
    if answer.get("status") == "timeout":
        return timeout_label
    if answer.get("signal"):
        return f"killed by signal {answer['signal']}"
    if answer.get("status") == "sandbox-failure":
        return answer.get("error", "sandbox failure")
    tail = (answer.get("stderr") or "").strip().splitlines()
    return (tail[-1] if tail else f"exit code {answer.get('exit_code')}")[:200]


def evaluate_paper(sandbox, code: str, in_outs: dict, per_test_timeout: float) -> dict:
    """One child runs every test, like the reference's one process per program; if it
    does not report within the global limit (or dies), every test is -1."""
    n_tests = len(in_outs["inputs"])
    answer = sandbox.execute({"command": ["call", "apps_child:paper"],
                              "payload": {"code": code, "in_outs": in_outs,
                                          "per_test_timeout": int(per_test_timeout)},
                              "timeout": PAPER_GLOBAL_TIMEOUT, "return_stdout": 0})
    result = answer.get("result")
    if answer.get("status") != "exited" or not isinstance(result, dict) \
            or "results" not in result:
        return failed_everywhere(n_tests, death_reason(answer, "global timeout"))
    return {"results": result["results"], "times": result["times"],
            "errors": result["errors"]}


def strict_test(sandbox, code: str, in_outs: dict, index: int, timeout: float) -> tuple:
    inputs, expected = in_outs["inputs"][index], in_outs["outputs"][index]
    if in_outs.get("fn_name"):
        # APPS stores each call-based answer wrapped in a one-element list; strict compares with
        # that answer (the reference harness accepts either the list or its first element).
        if isinstance(expected, list) and len(expected) == 1:
            expected = expected[0]
        answer = sandbox.execute({"command": ["call", "apps_child:strict_call"],
                                  "payload": {"code": code, "fn_name": in_outs["fn_name"],
                                              "inputs": inputs, "expected": expected},
                                  "timeout": timeout, "return_stdout": 0})
        result = answer.get("result")
        if answer.get("status") == "exited" and isinstance(result, dict) and "verdict" in result:
            return result["verdict"], answer["time"], result.get("error")
        return -1, answer.get("time"), death_reason(answer)
    stdin = "\n".join(inputs) if isinstance(inputs, list) else str(inputs)
    expected_text = "\n".join(expected) if isinstance(expected, list) else str(expected)
    answer = sandbox.execute({"command": ["python", "main.py"], "files": {"main.py": code},
                              "stdin": stdin, "timeout": timeout, "return_stdout": FULL_STDOUT})
    if answer.get("status") == "exited" and answer.get("exit_code") == 0:
        return bool(strict_output_matches(answer["stdout"], expected_text)), answer["time"], None
    return -1, answer.get("time"), death_reason(answer)


def evaluate_strict(sandbox, code: str, in_outs: dict, per_test_timeout: float) -> dict:
    """A fresh script process per test; tests after the program's time budget is spent
    get -1 (earlier verdicts stand)."""
    compiled = sandbox.execute({"command": ["call", "pyscript:compile_check"], "payload": code,
                                "timeout": per_test_timeout, "return_stdout": 0})
    check = compiled.get("result") or {}
    if compiled.get("status") != "exited" or not check.get("ok"):
        return {"results": [-2], "times": [compiled.get("time")],
                "errors": [check.get("error") or death_reason(compiled)]}
    out = {"results": [], "times": [], "errors": []}
    spent = 0.0
    for index in range(len(in_outs["inputs"])):
        if spent >= PROGRAM_TIMEOUT:
            verdict, seconds, error = -1, None, "program time budget spent"
        else:
            timeout = min(per_test_timeout, PROGRAM_TIMEOUT - spent)
            verdict, seconds, error = strict_test(sandbox, code, in_outs, index, timeout)
            spent += seconds or 0.0
        out["results"].append(verdict)
        out["times"].append(seconds)
        out["errors"].append(error)
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

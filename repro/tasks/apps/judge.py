"""The APPS judge, on the host: each verdict mode's comparison rules applied to the raw
outcomes the sandbox returns (apps_child.py). Expected outputs never leave the host.

`paper` reproduces the reference harness of the study (codeparrot `apps_metric/
testing_util.py` as vendored by martin-wey/peft-llm-code, `run_test`, `custom_compare_`,
and `apps_metric/utils.py` for the post-processing of results): the same cascade of
comparisons, now run on the host from the captured lines or the decoded return value.
`strict` is a careful contest judge: whitespace-separated tokens in order, numbers as
numbers; call-based answers decoded per problem. docs/APPS_VERDICTS.md states both.

Per-test verdicts: True, False, -1 (the program failed: runtime error, timeout, crash or a
malformed outcome record), -2 (compile error; then the only entry), JUDGE_ERROR (-3: the
judge itself failed; never counted as the program's failure, counted in run.json).
"""
from __future__ import annotations

import math
import re

from . import values

JUDGE_ERROR = -3
STRICT_REL, STRICT_ABS = 1e-6, 1e-6
INT_TOKEN = re.compile(r"[+-]?\d+\Z")
NUMBER_TOKEN = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
INT_KEY = re.compile(r"-?\d+\Z")


class Malformed(ValueError):
    """An outcome record that is not what apps_child writes: the program's failure."""


# ---- paper mode: the reference's comparisons ----------------------------------------
def paper_inputs(inputs, call_based: bool):
    """One test's inputs as the reference hands them to the program: stdin lists joined
    by newlines (`run_test`: `inputs = "\\n".join(inputs)`); a call-based dict first
    argument gets int keys and the other arguments are dropped (`run_test`: "JSON forces
    dictionaries to have string keys; this undoes this (assuming a singleton list)")."""
    if not call_based:
        return "\n".join(inputs) if isinstance(inputs, list) else inputs
    try:
        if isinstance(inputs[0], dict):
            inputs = [{int(k): v for k, v in inputs[0].items()}]
    except Exception:
        pass
    return [values.encode(a) for a in inputs]


def paper_expected(outputs: list, index: int):
    """outputs[index] after the reference's int-key rewrite of dict answers (`run_test`,
    the two `isinstance(in_outs["outputs"][index]...dict)` blocks)."""
    expected = outputs[index]
    try:
        if isinstance(expected, dict):
            expected = [{int(k): v for k, v in expected.items()}]
    except Exception:
        pass
    try:
        if isinstance(expected[0], dict):
            expected = [{int(k): v for k, v in expected[0].items()}]
    except Exception:
        pass
    return expected


def paper_call_verdict(output, expected):
    """`run_test`, call-based branch: tuple -> list, `==`, or equal to the first element
    of the expected list, or a list of tuples equal to it; an exception is -1."""
    try:
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
    except Exception:
        return -1


def stripped_equal(a, b):
    return a.strip() == b.strip()


def paper_stdout_verdict(output: list, expected):
    """`run_test`, standard-input branch after a clean run: `custom_compare_`, then
    checks 1-6 of the reference in order. `output` is the list of captured lines,
    `expected` the test's output string (lists already joined). None when the reference
    appends nothing (its `continue` after a failed check 4)."""
    import numpy as np
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
        expected = [[x.strip() for x in item.split("\n") if x] for item in expected]
    else:
        expected = [x.strip() for x in expected.split("\n") if len(x)]
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
        expected = [set(item.split()) if isinstance(item, str) else item for item in expected]
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


def plain_verdict(value):
    """`apps_metric/utils.py`, `evaluate_generations`: a numpy array result becomes its
    first item and a numpy bool a bool; we also fold any other truthy value to a bool."""
    try:
        import numpy as np
        if isinstance(value, np.ndarray):
            value = value.item(0)
        if isinstance(value, np.bool_):
            value = bool(value)
    except Exception:
        return False
    if value is True or value is False or (type(value) is int and value in (-1, -2)):
        return value
    try:
        return bool(value)
    except Exception:
        return False


def paper_test(outcome: dict, outputs: list, index: int, call_based: bool):
    """(verdict, error, live_object) of one test from its raw outcome."""
    if "raised" in outcome:
        return -1, outcome.get("error") or outcome["raised"], False
    if "unencodable" in outcome:
        return JUDGE_ERROR, f"judge error: return value not transferable ({outcome['unencodable']})", False
    if call_based:
        output = values.decode(outcome["value"])
        live = values.contains_opaque(output)
        verdict = paper_call_verdict(output, paper_expected(outputs, index))
        return plain_verdict(verdict), ("live object compared as unequal" if live else None), live
    expected = outputs[index]
    if isinstance(expected, list):
        expected = "\n".join(expected)
    if outcome.get("truncated"):
        return False, "captured output over the transfer cap", False
    verdict = paper_stdout_verdict(list(outcome["lines"]), expected)
    return (None if verdict is None else plain_verdict(verdict)), None, False


# ---- strict mode: a careful contest judge -------------------------------------------
def number(token: str):
    if INT_TOKEN.match(token):
        return int(token)
    if NUMBER_TOKEN.match(token):
        return float(token)
    return None


def tokens_match(got: str, want: str) -> bool:
    if got == want:
        return True
    a, b = number(got), number(want)
    if a is None or b is None:
        return False
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=STRICT_REL, abs_tol=STRICT_ABS)


def strict_output_matches(got: str, expected: str) -> bool:
    """Whitespace-separated tokens equal in order (spaces, tabs, blank and trailing lines
    ignored; case kept); numbers compared as numbers, with a 1e-6 relative/absolute
    tolerance when either side has a fractional part or exponent."""
    got_tokens, want_tokens = got.split(), expected.split()
    return len(got_tokens) == len(want_tokens) and all(
        tokens_match(g, w) for g, w in zip(got_tokens, want_tokens))


def dict_keys(value, out: list) -> list:
    if isinstance(value, dict):
        out.extend(value)
        for v in value.values():
            dict_keys(v, out)
    elif isinstance(value, list):
        for v in value:
            dict_keys(v, out)
    return out


def with_int_keys(value):
    if isinstance(value, dict):
        return {int(k): with_int_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_int_keys(v) for v in value]
    return value


def restore_int_keys(items: list) -> list:
    """JSON can only write string keys: where every dict key of the problem's values is
    an integer literal, the problem meant int keys."""
    keys = dict_keys(items, [])
    if keys and all(isinstance(k, str) and INT_KEY.match(k) for k in keys):
        return [with_int_keys(v) for v in items]
    return items


def strict_expected(outputs: list) -> list:
    """The answers of a call-based problem: APPS wraps each in a one-element list, decided
    per problem (every output a one-element list), never per value."""
    wrapped = bool(outputs) and all(isinstance(o, list) and len(o) == 1 for o in outputs)
    return restore_int_keys([o[0] for o in outputs] if wrapped else list(outputs))


def strict_args(inputs: list) -> list:
    """Every test's arguments as typed trees, int dict keys restored per problem."""
    restored = restore_int_keys([list(args) for args in inputs])
    return [[values.encode(a) for a in args] for args in restored]


def normal(value):
    """A returned value in JSON's terms: tuples and numpy arrays as lists, numpy scalars
    as Python numbers; every other type kept as is (and so compared by its type)."""
    kind = type(value)
    if kind.__module__ == "numpy":
        if hasattr(value, "tolist"):
            return normal(value.tolist())
    if kind in (list, tuple):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return {normal(k): normal(v) for k, v in value.items()}
    return value


def values_match(got, want) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        if isinstance(want, int) and isinstance(got, int):
            return got == want
        return math.isclose(got, want, rel_tol=STRICT_REL, abs_tol=STRICT_ABS)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(values_match(g, w) for g, w in zip(got, want))
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() == want.keys() and all(values_match(got[k], want[k]) for k in want)
    return type(got) is type(want) and got == want


def strict_call_test(outcome: dict, want):
    """(verdict, error, live_object) of one strict call-based test."""
    if "raised" in outcome:
        return -1, outcome.get("error") or outcome["raised"], False
    if "unencodable" in outcome:
        return JUDGE_ERROR, f"judge error: return value not transferable ({outcome['unencodable']})", False
    got = values.decode(outcome["value"])
    if values.contains_opaque(got):
        return False, "live object compared as unequal", True
    return values_match(normal(got), want), None, False


# ---- outcome records ------------------------------------------------------------------
def check_outcome(outcome, call_based: bool) -> dict:
    """A per-test outcome exactly as apps_child writes it, or Malformed."""
    if not isinstance(outcome, dict):
        raise Malformed("test outcome is not an object")
    if "raised" in outcome:
        if not isinstance(outcome["raised"], str):
            raise Malformed("exception class is not a string")
    elif "unencodable" in outcome:
        if not isinstance(outcome["unencodable"], str):
            raise Malformed("unencodable reason is not a string")
    elif call_based:
        if "value" not in outcome:
            raise Malformed("call-based outcome without a value")
        values.decode(outcome["value"])  # DecodeError is a ValueError: malformed
    else:
        lines = outcome.get("lines")
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise Malformed("captured lines are not a list of strings")
    if "error" in outcome and not isinstance(outcome["error"], (str, type(None))):
        raise Malformed("error text is not a string")
    return outcome

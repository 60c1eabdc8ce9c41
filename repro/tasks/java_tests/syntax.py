"""Java syntactic validity with the unit-test study's salvage rule.

A prediction (the body of a test method, or of a HumanEval-X method, ending with the
method's closing brace) is put inside a dummy JUnit class and parsed. On a parse error the
text is cut before the error line, its braces are rebalanced (one or two closing braces
appended after dropping trailing lines until the open count is 1 or 2) and it is parsed
again; if that fails, the cut text is salvaged again from its own first error. A prediction
is valid when some such cut parses; the salvaged text (wrapper removed) is what CodeBLEU
and execution use. The study's validity is the share of salvaged predictions.

Grammar: `javalang` (PyPI, pinned), a recursive-descent Java 8 parser that stops at the
first offending token and names its line, as the authors' ANTLR4 parser did (their error
listener raised on the first error and the cut used its line). Differences: javalang knows
Java 8 syntax only (records, text blocks and switch expressions are errors for it, accepted
by the ANTLR grammar), and at the end of the input it reports no line (taken as the last
line, where ANTLR reports its EOF token). tree-sitter-java was measured too and rejected
for this rule: it recovers from errors, and on a truncated input it wraps the whole file
in one ERROR node starting at line 1, which gives no usable cut line (docs/STUDY2.md)."""
from __future__ import annotations

import re

# The dummy class the study wraps a prediction in; its text (indentation included) decides
# which salvaged results count as empty (see EMPTY_SALVAGE).
WRAPPER = "class dummyTest {\n        @Test\n        public void dummy() {\n    "
INNER_CLOSE = "\n    }"
OUTER_CLOSE = "\n\n}"
# A prediction whose first line already breaks the parse salvages to an empty method and
# closed class; the study drops it (it is not a test).
EMPTY_SALVAGE = "}\n\n}"


def first_error_line(code: str) -> int | None:
    """1-based line of the first syntax error, or None when `code` parses."""
    import javalang

    try:
        javalang.parse.parse(code)
    except javalang.parser.JavaSyntaxError as e:
        position = getattr(e.at, "position", None)
        return position.line if position else code.count("\n") + 1
    except javalang.tokenizer.LexerError as e:
        match = re.search(r"line (\d+)", str(e))
        return int(match.group(1)) if match else code.count("\n") + 1
    except (RecursionError, TypeError, AttributeError, IndexError, StopIteration):
        return code.count("\n") + 1  # javalang's own failures on odd input: an error at the end
    return None


def brace_level(code: str) -> int:
    return code.count("{") - code.count("}")


def rebalance(code: str) -> str | None:
    """Drop trailing lines until one or two braces are open (then close them) or none is;
    None when no prefix of lines gets there."""
    lines = code.splitlines(keepends=True)
    while lines:
        candidate = "".join(lines)
        level = brace_level(candidate)
        if level == 0:
            return candidate
        if level == 1:
            return candidate + OUTER_CLOSE
        if level == 2:
            return candidate + INNER_CLOSE + OUTER_CLOSE
        lines.pop()
    return None


def _salvage_wrapped(code: str) -> str | None:
    while True:
        line = first_error_line(code)
        if line is None:
            return code
        kept = code.splitlines()[:line - 1]
        if len(kept) <= 1:
            return None
        cut = "\n".join(kept)
        balanced = rebalance(cut)
        if balanced is None:  # the study gives up here (no recursion)
            return None
        if first_error_line(balanced) is None:
            return balanced
        code = cut


def salvage(prediction: str) -> str | None:
    """The salvaged prediction (wrapper removed), or None when it cannot be salvaged."""
    fixed = _salvage_wrapped(WRAPPER + prediction)
    if fixed is None:
        return None
    body = fixed.removeprefix(WRAPPER)
    return None if body == EMPTY_SALVAGE else body


def parses_as_is(prediction: str) -> bool:
    """Stricter view, reported beside validity: the wrapped prediction parses without a cut
    (with the dummy class's closing brace added when the prediction does not close it)."""
    wrapped = WRAPPER + prediction
    return first_error_line(wrapped) is None or first_error_line(wrapped + OUTER_CLOSE) is None


def score(predictions: list[str]) -> dict:
    """Validity (percent) and the salvaged text per prediction."""
    salvaged = [salvage(p) for p in predictions]
    n = len(predictions)
    valid = sum(s is not None for s in salvaged)
    strict = sum(parses_as_is(p) for p in predictions)
    return {"valid": 100.0 * valid / n if n else 0.0, "valid_count": valid,
            "parses_as_is": 100.0 * strict / n if n else 0.0, "salvaged": salvaged}

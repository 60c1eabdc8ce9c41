"""CodeBLEU: hand-worked values, corner cases, agreement with the CodeXGLUE evaluator's
behaviour (rebuilt from the PyPI package's internals with the evaluator's settings), and
the documented disagreements with the PyPI package."""
import json
import os
import subprocess
import sys

import pytest

from repro.metrics import codebleu_pypi
from repro.metrics.codebleu_paper import (PAPER_PYTHON_KEYWORDS, corpus_codebleu,
                                          strip_comments_java_style)

KEYS = {"codebleu", "ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match"}


def combined(ngram, weighted, syntax, dataflow):
    return 0.25 * ngram + 0.25 * weighted + 0.25 * syntax + 0.25 * dataflow


@pytest.fixture
def evaluator(monkeypatch):
    """The CodeXGLUE evaluator's composition (calc_code_bleu.py) over the PyPI package's
    copies of its parts: Java comment rules, the 35 keywords, missing dataflow = 0."""
    from codebleu import bleu, dataflow_match, syntax_match, weighted_ngram_match
    from codebleu.parser import remove_comments_and_docstrings
    from codebleu.utils import get_tree_sitter_language

    def java_rules(source, lang):
        return remove_comments_and_docstrings(source, "java")
    monkeypatch.setattr(syntax_match, "remove_comments_and_docstrings", java_rules)
    monkeypatch.setattr(dataflow_match, "remove_comments_and_docstrings", java_rules)
    language = get_tree_sitter_language("python")

    def score(hyps, refs):
        hyps, refs = [h.strip() for h in hyps], [[r.strip()] for r in refs]
        th, tr = [h.split() for h in hyps], [[r.split() for r in ref] for ref in refs]
        weighted = [[[t, {w: 1 if w in PAPER_PYTHON_KEYWORDS else 0.2 for w in t}] for t in ref]
                    for ref in tr]
        parts = (bleu.corpus_bleu(tr, th), weighted_ngram_match.corpus_bleu(weighted, th),
                 syntax_match.corpus_syntax_match(refs, hyps, "python", tree_sitter_language=language),
                 dataflow_match.corpus_dataflow_match(refs, hyps, "python", tree_sitter_language=language))
        return dict(zip(("ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match"),
                        parts), codebleu=combined(*parts))
    return score


def test_keyword_list_is_the_evaluators_35():
    assert len(PAPER_PYTHON_KEYWORDS) == 35
    assert {"def", "lambda", "yield", "None"} <= PAPER_PYTHON_KEYWORDS
    assert not {"match", "case", "type", "print"} & PAPER_PYTHON_KEYWORDS


def test_java_comment_rules():
    assert strip_comments_java_style("x = '//' + y // z") == "x = '//' + y  "
    assert strip_comments_java_style("a /* b */ + c") == "a   + c"
    assert strip_comments_java_style("x = 1  # kept") == "x = 1  # kept"
    assert strip_comments_java_style("a\n  \n// gone\nb") == "a\nb"


def test_identical_short_snippet_scores_below_one_by_hand():
    # 'x = 1': 3 tokens, so no 4-gram: p4 = 0.1/1 after smoothing; the weighted unigram
    # recall is 0.6 / max(1, 0.6); `x` is computed from the literal `1` (one flow).
    s = corpus_codebleu(["x = 1"], ["x = 1"])
    assert set(s) == KEYS
    assert s["ngram_match"] == pytest.approx(0.1 ** 0.25)
    assert s["weighted_ngram_match"] == pytest.approx((0.6 * 0.1) ** 0.25)
    assert s["syntax_match"] == 1.0 and s["dataflow_match"] == 1.0
    assert s["codebleu"] == pytest.approx(combined(0.1 ** 0.25, 0.06 ** 0.25, 1, 1))
    assert s["codebleu"] == pytest.approx(0.7643, abs=1e-4)


def test_identical_corpus_of_short_snippets_scores_about_090():
    snippets = ["x = 1", "os.path.join(a, b)", "df['a'] = df['b'] * 2", "a, b = b, a",
                "y = [i * 2 for i in x]", "print(s.split(','))"]
    s = corpus_codebleu(snippets, snippets)
    assert s["syntax_match"] == 1.0 and s["dataflow_match"] == 1.0
    assert 0.85 < s["codebleu"] < 0.95
    assert s["ngram_match"] < 1.0  # short n-gram lists: the reason it is not 1


def test_identical_snippet_with_four_grams_scores_one():
    assert corpus_codebleu(["y = x + 1"], ["y = x + 1"])["codebleu"] == 1.0


def test_double_slash_cuts_the_rest_of_the_line_for_syntax_and_dataflow():
    # Both sides become 'q = a' for the tree; n-grams still see every token:
    # p1..p4 = 4/5, 3/4, 2/3, 1/2 -> (1/5) ** 0.25.
    s = corpus_codebleu(["q = a // b"], ["q = a // len(b)"])
    assert s["syntax_match"] == 1.0 and s["dataflow_match"] == 1.0
    assert s["ngram_match"] == pytest.approx(0.2 ** 0.25)


def test_empty_prediction():
    s = corpus_codebleu([""], ["x = a + 1"])
    assert s == dict.fromkeys(KEYS, 0.0)
    # An empty prediction among good ones only lowers the corpus score.
    good = corpus_codebleu(["x = a + 1", "y = b"], ["x = a + 1", "y = b"])
    mixed = corpus_codebleu(["x = a + 1", ""], ["x = a + 1", "y = b"])
    assert 0 < mixed["codebleu"] < good["codebleu"]


def test_unparseable_code_scores_without_error(evaluator):
    s = corpus_codebleu(["foo(", "x = [1, 2"], ["foo()", "x = [1, 2]"])
    assert s == pytest.approx(evaluator(["foo(", "x = [1, 2"], ["foo()", "x = [1, 2]"]))
    assert corpus_codebleu(["foo("], ["foo()"])["syntax_match"] == 0.0


def test_no_dataflow_in_the_corpus_scores_zero_not_one():
    s = corpus_codebleu(["print('hi')"], ["print('hi')"])
    assert s["dataflow_match"] == 0.0 and s["syntax_match"] == 1.0
    assert s["codebleu"] == pytest.approx(combined(s["ngram_match"], s["weighted_ngram_match"], 1, 0))


def test_empty_corpus_scores_zero_and_lengths_must_match():
    assert corpus_codebleu([], []) == dict.fromkeys(KEYS, 0.0)
    assert codebleu_pypi.corpus_codebleu([], []) == dict.fromkeys(KEYS, 0.0)
    with pytest.raises(ValueError, match="2 predictions and 1 references"):
        corpus_codebleu(["a", "b"], ["a"])


def test_flatten_matches_scoring_pre_flattened_text():
    multi = ["def f(a, b=2):\n\treturn a + b"]
    ref = ["def f(a, b=3):\n    return a - b"]
    flat = [" ".join(x.replace("\t", " ").split("\n")) for x in multi]
    assert corpus_codebleu(multi, ref) == corpus_codebleu(flat, [ref[0].replace("\n", " ")])
    # Flattened, a `#` comment swallows the rest of the snippet; line by line it does not.
    pred, ref = ["x = 1\n# note\ny = x"], ["x = 1\ny = x"]
    lines, flat = corpus_codebleu(pred, ref, flatten=False), corpus_codebleu(pred, ref)
    assert (lines["syntax_match"], lines["dataflow_match"]) == (0.8, 1.0)  # 4 of 5 subtrees
    assert (flat["syntax_match"], flat["dataflow_match"]) == (0.0, 0.0)


PAIRS = [
    ("x = 1", "x = 1"), ("os.path.join(a, b)", "os.path.join(a, b)"), ("a // b", "a // b + c"),
    ("print('hello')", "print('hi')"), ("df['a'] = df['b'] * 2", "df['a'] = df['c'] + 2"),
    ("[x for x in lst if x > 0]", "[y for y in lst if y]"), ("", "x = 1"),
    ("def f(a, b=2):\n    return a + b", "def f(a, b=3):\n    return a - b"),
    ("if a:\n    b = c\nelse:\n    b = d\nprint(b)", "if a:\n    b = c\nprint(b)"),
    ("foo(", "foo()"), ("x = sorted(d.items(), key=lambda t: t[1])  # sort", "x = sorted(d.items(), key=lambda kv: kv[1])"),
    ("s = '//not a comment' + t", "s = '//x' + t /* c */ + u"), ("a, b = b, a", "a, b = b, a"),
    ("x: int", "x: int = 3"), ("\u00e9 = '\u00fc' ; y = \u00e9", "\u00e9 = '\u00fc' ; y = \u00e9"),
    ("x += f(y)", "x = x + f(y)"), ("(n := len(a))", "n = len(a)"), ("f'{a} {b}'.upper()", "'{} {}'.format(a, b)"),
    ("d = {k: v for k, v in zip(a, b)}", "d = dict(zip(a, b))"), ("'a' 'b' + c", "'ab' + c"),
    ("g = lambda x, y=1: x * y", "def g(x, y=1): return x * y"), ("import re; m = re.match(p, s)", "m = re.search(p, s)"),
    ("x[i] = a[j]", "x[i] = a[i]"), ("res = [a[i] + b[i] for i in range(n)]", "res = list(map(add, a, b))"),
]


def test_agrees_with_the_evaluator_sample_by_sample(evaluator):
    for hyp, ref in PAIRS:
        h, r = corpus_codebleu([hyp], [ref]), evaluator([hyp.replace("\n", " ")], [ref.replace("\n", " ")])
        assert h == r, (hyp, ref)


def test_agrees_with_the_evaluator_on_a_corpus_and_unflattened(evaluator):
    hyps, refs = [h for h, _ in PAIRS], [r for _, r in PAIRS]
    flat = [[x.replace("\n", " ") for x in side] for side in (hyps, refs)]
    assert corpus_codebleu(hyps, refs) == evaluator(*flat)
    loop_free = [(h, r) for h, r in PAIRS if "for" not in h + r]
    hyps, refs = [h for h, _ in loop_free], [r for _, r in loop_free]
    assert corpus_codebleu(hyps, refs, flatten=False) == evaluator(hyps, refs)


def test_differs_from_the_pypi_package_where_the_evaluator_says_so():
    # `//` floor division: the paper scorer drops 'b' / 'len(b)' from the trees, so both
    # trees are 'q = a' (syntax 1); the package parses the whole line (syntax < 1).
    pred, ref = ["q = a // b"], ["q = a // len(b)"]
    paper, pypi = corpus_codebleu(pred, ref), codebleu_pypi.corpus_codebleu(pred, ref)
    assert paper["syntax_match"] == 1.0 > pypi["syntax_match"]
    assert paper["ngram_match"] == pytest.approx(pypi["ngram_match"])
    # No dataflow: 0 in the paper's combined score, 1 in the package's.
    pred = ref = ["print('hi')"]
    paper, pypi = corpus_codebleu(pred, ref), codebleu_pypi.corpus_codebleu(pred, ref)
    assert paper["dataflow_match"] == pypi["dataflow_match"] == 0.0
    assert pypi["codebleu"] - paper["codebleu"] == pytest.approx(0.25)
    # `#` comments stay in the paper scorer's tree; the package removes them.
    pred, ref = ["x = a + b # add"], ["x = a + b"]
    assert corpus_codebleu(pred, ref)["syntax_match"] < 1.0 == codebleu_pypi.corpus_codebleu(pred, ref)["syntax_match"]
    # 'match' is a keyword for the package only (weight 1 vs 0.2).
    same = ["match = re.match(p, s)"]
    assert corpus_codebleu(same, same)["weighted_ngram_match"] == pytest.approx(0.8 ** 0.25)
    assert codebleu_pypi.corpus_codebleu(same, same)["weighted_ngram_match"] == 1.0


LOOPS = [["for i in range(n): total = total + i * w", "for k in range(n): total = total + k * w"],
         ["while x < n: y = x + z ; x = y", "while a < n: y = a + z ; a = y"],
         ["for a, b in pairs: s = b + a + c", "for x, y in pairs: s = y + x + c"]]
_RUN = ("import json, sys; from repro.metrics.codebleu_paper import corpus_codebleu; "
        "print(json.dumps([corpus_codebleu([h], [r]) for h, r in json.loads(sys.argv[1])]))")


def test_deterministic_across_hash_seeds():
    # The evaluator's set-merged name lists make these depend on PYTHONHASHSEED; ours not.
    outputs = set()
    for seed in ("0", "1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", _RUN, json.dumps(LOOPS)], env=env,
                             capture_output=True, text=True, check=True, cwd=os.getcwd())
        outputs.add(out.stdout)
    assert len(outputs) == 1
    assert [s["dataflow_match"] for s in json.loads(outputs.pop())] == pytest.approx([1.0, 1.0, 6 / 7])


def test_agrees_with_the_evaluator_on_the_bench_corpus(evaluator):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
    try:
        from bench_codebleu import pairs
    finally:
        sys.path.pop(0)
    preds, refs = pairs(0)
    assert len(preds) == 543
    assert corpus_codebleu(preds, refs) == evaluator(preds, refs)

"""Paper-compatible CodeBLEU: the default scorer for comparison with the paper's tables.

The study computed CodeBLEU with the CodeXGLUE evaluator
(`Code-Code/code-to-code-trans/evaluator/CodeBLEU`) on predictions and references flattened
as for EM. This module is our own implementation of that evaluator's behaviour on the PyPI
`tree-sitter` / `tree-sitter-python` wheels, quirks included, because the scores in the
paper carry them:

* comments are stripped with the evaluator's Java rules even for Python: `//` cuts the rest
  of a (flattened) line, `/* ... */` is removed, `#` comments stay in the code;
* BLEU and weighted BLEU split on whitespace; BLEU uses NLTK smoothing method 1
  (epsilon 0.1) at corpus level, so identical short snippets score below 1;
* keyword weight 1 (its 35-word Python list) and 0.2 for every other reference token; the
  weighted brevity penalty compares each hypothesis with a reference "length" of 2 (the
  evaluator measures the `[tokens, weights]` pair, not the tokens);
* the syntax match counts reference subtrees whose s-expression occurs in the candidate;
* the dataflow match scores 0 (not 1) when the corpus has no reference dataflow.

One deliberate difference: where the evaluator merges variable-name lists through a Python
`set` (so results depend on PYTHONHASHSEED), we sort the merged names (plain `str` order).
The scorer is therefore deterministic; see docs/METRICS.md.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from repro.metrics.exact_match import normalize

WEIGHTS = (0.25, 0.25, 0.25, 0.25)
SMOOTHING_EPSILON = 0.1
KEYWORD_WEIGHT, OTHER_TOKEN_WEIGHT = 1, 0.2
# keywords/python.txt of the CodeXGLUE evaluator (35 words; no match/case/type).
PAPER_PYTHON_KEYWORDS = frozenset("""
False None True and as assert async await break class continue def del elif else except
finally for from global if import in is lambda nonlocal not or pass raise return try while
with yield""".split())

# The evaluator's Java comment rule: a string literal is kept as is, a `//` line comment or a
# `/* */` block comment becomes one space. Strings are matched first where they start first.
_JAVA_COMMENT_OR_STRING = re.compile(
    r"//.*?$|/\*.*?\*/|'(?:\\.|[^\\'])*'|\"(?:\\.|[^\\\"])*\"", re.DOTALL | re.MULTILINE)


def strip_comments_java_style(code: str) -> str:
    """The evaluator's comment removal (Java rules), then drop whitespace-only lines."""
    def replace(match: re.Match) -> str:
        return " " if match.group(0).startswith("/") else match.group(0)
    text = _JAVA_COMMENT_OR_STRING.sub(replace, code)
    return "\n".join(line for line in text.split("\n") if line.strip())


# ---------------------------------------------------------------- n-gram matches (BLEU) ---

def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _brevity_penalty(reference_length: int, hypothesis_length: int) -> float:
    if hypothesis_length > reference_length:
        return 1.0
    if hypothesis_length == 0:
        return 0.0
    return math.exp(1 - reference_length / hypothesis_length)


def _smoothed_score(numerators, denominators, brevity_penalty: float) -> float:
    """Geometric mean of the n-gram ratios with smoothing method 1, times the penalty."""
    if numerators[0] == 0:
        return 0.0
    logs = [w * math.log((num if num != 0 else SMOOTHING_EPSILON) / den)
            for w, num, den in zip(WEIGHTS, numerators, denominators)]
    return brevity_penalty * math.exp(math.fsum(logs))


def corpus_ngram_match(references: list[list[str]], hypotheses: list[list[str]]) -> float:
    """Corpus BLEU-4 (modified precision, clipped by the reference), smoothing method 1."""
    orders = range(1, len(WEIGHTS) + 1)
    numerators, denominators = [0] * len(WEIGHTS), [0] * len(WEIGHTS)
    ref_len = hyp_len = 0
    for ref, hyp in zip(references, hypotheses):
        for i, n in enumerate(orders):
            hyp_counts, ref_counts = _ngrams(hyp, n), _ngrams(ref, n)
            numerators[i] += sum(min(c, ref_counts[g]) for g, c in hyp_counts.items())
            denominators[i] += max(1, sum(hyp_counts.values()))
        hyp_len += len(hyp)
        ref_len += len(ref)
    return _smoothed_score(numerators, denominators, _brevity_penalty(ref_len, hyp_len))


def _token_weights(reference: list[str]) -> dict[str, float]:
    return {t: KEYWORD_WEIGHT if t in PAPER_PYTHON_KEYWORDS else OTHER_TOKEN_WEIGHT
            for t in reference}


def corpus_weighted_ngram_match(references: list[list[str]], hypotheses: list[list[str]]) -> float:
    """The evaluator's keyword-weighted n-gram *recall* (unigrams weighted, others plain)."""
    numerators, denominators = [0] * len(WEIGHTS), [0] * len(WEIGHTS)
    hyp_len = 0
    for ref, hyp in zip(references, hypotheses):
        weights = _token_weights(ref)
        for i, n in enumerate(range(1, len(WEIGHTS) + 1)):
            hyp_counts, ref_counts = _ngrams(hyp, n), _ngrams(ref, n)
            clipped = {g: min(c, hyp_counts[g]) for g, c in ref_counts.items()}
            if n == 1:
                # Summed in the reference's first-occurrence order, as the evaluator does,
                # so the floating-point totals agree to the last bit.
                num = den = 0
                for g, c in clipped.items():
                    num += c * weights[g[0]]
                for g, c in ref_counts.items():
                    den += c * weights[g[0]]
                numerators[i] += num
                denominators[i] += max(1, den)
            else:
                numerators[i] += sum(clipped.values())
                denominators[i] += max(1, sum(ref_counts.values()))
        hyp_len += len(hyp)
    # Reference "length" 2 per sample: the evaluator's closest_ref_length sees [tokens, weights].
    return _smoothed_score(numerators, denominators, _brevity_penalty(2 * len(hypotheses), hyp_len))


# ------------------------------------------------------------------- parsing, syntax ---

@lru_cache(maxsize=1)
def _parser():
    import tree_sitter_python
    from tree_sitter import Language, Parser
    return Parser(Language(tree_sitter_python.language()))


def _is_token(node) -> bool:
    """A leaf of the evaluator's token list: no children, or a whole string; never a comment."""
    return (node.child_count == 0 or node.type == "string") and node.type != "comment"


def _subtree_sexps(root) -> list[str]:
    """S-expressions of the root and of every node that has children."""
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(str(node))
        stack.extend(c for c in node.children if c.child_count)
    return out


# ------------------------------------------------------------------------- dataflow ---

Edge = tuple  # (name, token index, relation, parent names, parent token indexes)
_ASSIGNMENTS = ("assignment", "augmented_assignment", "for_in_clause")
# What the evaluator's DFG walk can raise on odd trees (a missing field is None, ...).
_DFG_FAILURES = (AttributeError, IndexError, KeyError, TypeError, RecursionError)


def _key(node) -> tuple:
    return (tuple(node.start_point), tuple(node.end_point))


def _merge_names(a: list[str], b: list[str]) -> list[str]:
    # The evaluator returns list(set(a + b)), whose order follows PYTHONHASHSEED. Sorted
    # here, so the score is reproducible; the set of names is the same.
    return sorted(set(a + b))


def _by_index(edges: list[Edge]) -> list[Edge]:
    return sorted(edges, key=lambda e: e[1])


class _DataflowBuilder:
    """The evaluator's Python dataflow graph (its DFG_python), over one parsed snippet."""

    def __init__(self, code: str, root):
        lines = code.split("\n")
        self.tokens: dict[tuple, tuple[int, str]] = {}
        for idx, node in enumerate(self._token_nodes(root)):
            self.tokens[_key(node)] = (idx, self._token_text(node, lines))

    @staticmethod
    def _token_nodes(root):
        stack = [root]
        while stack:
            node = stack.pop()
            if _is_token(node):
                yield node
            else:
                stack.extend(reversed(node.children))

    @staticmethod
    def _token_text(node, lines: list[str]) -> str:
        # tree-sitter columns count bytes; the evaluator slices the str with them anyway
        # (only differs on non-ASCII lines), and so do we.
        (r0, c0), (r1, c1) = node.start_point, node.end_point
        if r0 == r1:
            return lines[r0][c0:c1]
        return lines[r0][c0:] + "".join(lines[r0 + 1:r1]) + lines[r1][:c1]

    def variables(self, node) -> list[tuple]:
        """Token keys under node whose text differs from their node type (names, literals)."""
        if _is_token(node):
            key = _key(node)
            return [key] if node.type != self.tokens[key][1] else []
        return [k for child in node.children for k in self.variables(child)]

    def _computed_from(self, left, right, states: dict) -> list[Edge]:
        parents = self.variables(right)
        edges = []
        for key in self.variables(left):
            idx, name = self.tokens[key]
            edges.append((name, idx, "computedFrom", [self.tokens[k][1] for k in parents],
                          [self.tokens[k][0] for k in parents]))
            states[name] = [idx]
        return edges

    @staticmethod
    def _paired_sides(node) -> tuple[list, list]:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        lefts = [c for c in left.children if c.type != ","]
        rights = [c for c in right.children if c.type != ","]
        if len(lefts) != len(rights):
            lefts, rights = [left], [right]
        return lefts or [left], rights or [right]

    def visit(self, node, states: dict) -> tuple[list[Edge], dict]:
        states = states.copy()
        kind = node.type
        if _is_token(node):
            return self._visit_token(node, states)
        if kind == "default_parameter":
            return self._visit_default(node, states)
        if kind in _ASSIGNMENTS:
            return self._visit_assignment(node, states)
        if kind == "if_statement":
            return self._visit_if(node, states)
        if kind == "for_statement":
            return self._visit_loop(node, states, self._for_pass)
        if kind == "while_statement":
            return self._visit_loop(node, states, self._while_pass)
        edges = []
        first = [c for c in node.children if c.type == "for_in_clause"]
        for child in first + [c for c in node.children if c.type != "for_in_clause"]:
            found, states = self.visit(child, states)
            edges += found
        return _by_index(edges), states

    def _visit_token(self, node, states):
        idx, name = self.tokens[_key(node)]
        if node.type == name:  # keyword or punctuation
            return [], states
        if name in states:
            return [(name, idx, "comesFrom", [name], states[name].copy())], states
        if node.type == "identifier":
            states[name] = [idx]
        return [(name, idx, "comesFrom", [], [])], states

    def _visit_default(self, node, states):
        name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        edges = []
        if value is None:
            for key in self.variables(name):
                idx, text = self.tokens[key]
                edges.append((text, idx, "comesFrom", [], []))
                states[text] = [idx]
            return _by_index(edges), states
        names, values = self.variables(name), self.variables(value)
        edges, states = self.visit(value, states)
        for key in names:
            idx, text = self.tokens[key]
            for vkey in values:
                vidx, vtext = self.tokens[vkey]
                edges.append((text, idx, "comesFrom", [vtext], [vidx]))
            states[text] = [idx]
        return _by_index(edges), states

    def _visit_assignment(self, node, states):
        if node.type == "for_in_clause":
            lefts, rights = [node.child_by_field_name("left")], [node.children[-1]]
        elif node.child_by_field_name("right") is None:  # bare annotation `x: int`
            return [], states
        else:
            lefts, rights = self._paired_sides(node)
        edges, states = self._assign(lefts, rights, states)
        return _by_index(edges), states

    def _assign(self, lefts, rights, states):
        """Visit the right-hand sides, then link each left side to what it is computed from."""
        edges = []
        for right in rights:
            found, states = self.visit(right, states)
            edges += found
        for left, right in zip(lefts, rights):
            edges += self._computed_from(left, right, states)
        return edges, states

    def _visit_if(self, node, entry_states):
        edges, current, alternatives, has_else = [], entry_states.copy(), [], False
        for child in node.children:
            has_else = has_else or "else" in child.type
            if child.type in ("elif_clause", "else_clause"):
                found, branch = self.visit(child, entry_states)
                alternatives.append(branch)
            else:
                found, current = self.visit(child, current)
            edges += found
        alternatives.append(current)
        if not has_else:
            alternatives.append(entry_states)
        merged: dict[str, list[int]] = {}
        for branch in alternatives:
            for name, positions in branch.items():
                merged.setdefault(name, []).extend(positions)
        return _by_index(edges), {k: sorted(set(v)) for k, v in merged.items()}

    def _for_pass(self, node, states):
        edges, states = self._assign(*self._paired_sides(node), states)
        if node.children[-1].type == "block":  # a for-else loop's body is never visited
            found, states = self.visit(node.children[-1], states)
            edges += found
        return edges, states

    def _while_pass(self, node, states):
        edges = []
        for child in node.children:
            found, states = self.visit(child, states)
            edges += found
        return edges, states

    def _visit_loop(self, node, states, one_pass):
        edges = []
        for _ in range(2):  # twice, so values flowing round the loop are seen
            found, states = one_pass(node, states)
            edges += found
        merged: dict[tuple, list] = {}
        for name, idx, relation, names, positions in edges:
            key = (name, idx, relation)
            if key in merged:
                merged[key] = [_merge_names(merged[key][0], names),
                               sorted(set(merged[key][1] + positions))]
            else:
                merged[key] = [names, positions]
        ordered = sorted(merged.items(), key=lambda item: item[0][1])
        return _by_index([(*key, v[0], v[1]) for key, v in ordered]), states


def _dataflow_edges(code: str, root) -> list[Edge]:
    """The evaluator's get_data_flow: DFG edges that take part in a flow, merged by token."""
    builder = _DataflowBuilder(code, root)
    try:
        edges, _ = builder.visit(root, {})
    except _DFG_FAILURES:  # the evaluator catches any failure and uses an empty DFG
        edges = []
    edges = _by_index(edges)
    used = set()
    for _, idx, _, _, positions in edges:
        if positions:
            used.add(idx)
        used.update(positions)
    merged: dict[int, Edge] = {}
    for edge in edges:
        name, idx, relation, names, positions = edge
        if idx not in used:
            continue
        if idx in merged:
            old = merged[idx]
            edge = (name, idx, relation, _merge_names(old[3], names),
                    sorted(set(old[4] + positions)))
        merged[idx] = edge
    return list(merged.values())


def normalize_dataflow(edges: list[Edge]) -> list[tuple]:
    """Rename variables var_0, var_1, ... in order of first appearance (parents first)."""
    names: dict[str, str] = {}
    out = []
    for name, _, relation, parents, _ in edges:
        for p in parents + [name]:
            names.setdefault(p, f"var_{len(names)}")
        out.append((names[name], relation, tuple(names[p] for p in parents)))
    return out


# ----------------------------------------------------------------------- the scorer ---

@dataclass
class _ParsedSnippet:
    subtrees: list[str]
    dataflow: list[tuple]


def parse_snippet(code: str) -> _ParsedSnippet:
    """Strip comments (Java rules), parse once, keep what syntax and dataflow need."""
    code = strip_comments_java_style(code)
    root = _parser().parse(code.encode("utf-8")).root_node
    return _ParsedSnippet(_subtree_sexps(root), normalize_dataflow(_dataflow_edges(code, root)))


def corpus_syntax_match(refs: list[_ParsedSnippet], cands: list[_ParsedSnippet]) -> float:
    matched = total = 0
    for ref, cand in zip(refs, cands):
        present = set(cand.subtrees)
        matched += sum(1 for s in ref.subtrees if s in present)
        total += len(ref.subtrees)
    return matched / total if total else 0.0


def corpus_dataflow_match(refs: list[_ParsedSnippet], cands: list[_ParsedSnippet]) -> float:
    matched = total = 0
    for ref, cand in zip(refs, cands):
        available = Counter(cand.dataflow)
        for flow, count in Counter(ref.dataflow).items():
            matched += min(count, available[flow])
        total += len(ref.dataflow)
    return matched / total if total else 0.0  # no reference dataflow at all: 0, as the paper


def corpus_codebleu(predictions: list[str], references: list[str], *, flatten: bool = True) -> dict:
    """Paper-compatible corpus CodeBLEU of one prediction per reference, as fractions.

    flatten=True turns newlines and tabs into spaces and strips, as the paper did before
    scoring; with flatten=False snippets are only stripped (multi-line code is parsed
    as is, which the evaluator's one-line-per-sample files could not carry).
    """
    if len(predictions) != len(references):
        raise ValueError(f"corpus_codebleu needs one prediction per reference: got "
                         f"{len(predictions)} predictions and {len(references)} references")
    prep = normalize if flatten else str.strip
    hyps = [prep(p) for p in predictions]
    refs = [prep(r) for r in references]
    if not refs:
        return dict.fromkeys(("codebleu", "ngram_match", "weighted_ngram_match",
                              "syntax_match", "dataflow_match"), 0.0)
    hyp_tokens, ref_tokens = [h.split() for h in hyps], [r.split() for r in refs]
    parsed_hyps, parsed_refs = [parse_snippet(h) for h in hyps], [parse_snippet(r) for r in refs]
    scores = {
        "ngram_match": corpus_ngram_match(ref_tokens, hyp_tokens),
        "weighted_ngram_match": corpus_weighted_ngram_match(ref_tokens, hyp_tokens),
        "syntax_match": corpus_syntax_match(parsed_refs, parsed_hyps),
        "dataflow_match": corpus_dataflow_match(parsed_refs, parsed_hyps),
    }
    scores["codebleu"] = sum(w * scores[k] for w, k in zip(WEIGHTS, (
        "ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match")))
    return scores


# ------------------------------------------------- per-sample statistics (bootstrap) ---
# Corpus CodeBLEU is a function of sums over samples: BLEU's clipped n-gram counts and
# lengths, the weighted recall's numerators and denominators, the syntax and dataflow match
# counts. One row of these per sample lets a bootstrap resample samples and rescore the
# corpus from summed rows (repro/stats.py), without parsing anything again.
STAT_COLUMNS = 23   # 0-3 BLEU num, 4-7 BLEU den, 8 hyp len, 9 ref len, 10-13 weighted num,
                    # 14-17 weighted den, 18 samples, 19-20 syntax matched/total, 21-22 dataflow matched/total


def sample_statistics(predictions: list[str], references: list[str], *, flatten: bool = True) -> list[list[float]]:
    """One row of corpus sums per (prediction, reference) pair; `codebleu_from_totals` of their
    column sums is `corpus_codebleu(...)["codebleu"]`."""
    prep = normalize if flatten else str.strip
    rows = []
    for p, r in zip(predictions, references):
        hyp, ref = prep(p), prep(r)
        h, t = hyp.split(), ref.split()
        row = [0.0] * STAT_COLUMNS
        weights = _token_weights(t)
        for i, n in enumerate(range(1, len(WEIGHTS) + 1)):
            hyp_counts, ref_counts = _ngrams(h, n), _ngrams(t, n)
            row[i] = sum(min(c, ref_counts[g]) for g, c in hyp_counts.items())
            row[4 + i] = max(1, sum(hyp_counts.values()))
            clipped = {g: min(c, hyp_counts[g]) for g, c in ref_counts.items()}
            if n == 1:
                row[10] = sum(c * weights[g[0]] for g, c in clipped.items())
                row[14] = max(1, sum(c * weights[g[0]] for g, c in ref_counts.items()))
            else:
                row[10 + i] = sum(clipped.values())
                row[14 + i] = max(1, sum(ref_counts.values()))
        row[8], row[9], row[18] = len(h), len(t), 1
        ph, pr = parse_snippet(hyp), parse_snippet(ref)
        present = set(ph.subtrees)
        row[19], row[20] = sum(1 for s in pr.subtrees if s in present), len(pr.subtrees)
        available = Counter(ph.dataflow)
        row[21] = sum(min(c, available[f]) for f, c in Counter(pr.dataflow).items())
        row[22] = len(pr.dataflow)
        rows.append(row)
    return rows


def codebleu_from_totals(totals):
    """Corpus CodeBLEU (fraction) from summed statistic rows; `totals` is one row or a
    (resamples x STAT_COLUMNS) numpy array, scored row by row."""
    import numpy as np

    t = np.atleast_2d(np.asarray(totals, dtype=float))

    def brevity(ref_len, hyp_len):
        with np.errstate(divide="ignore", invalid="ignore"):
            bp = np.exp(1 - ref_len / hyp_len)
        return np.where(hyp_len > ref_len, 1.0, np.where(hyp_len == 0, 0.0, bp))

    def smoothed(num, den, bp):
        logs = (np.log(np.where(num == 0, SMOOTHING_EPSILON, num) / den) * np.array(WEIGHTS)).sum(axis=1)
        return np.where(num[:, 0] == 0, 0.0, bp * np.exp(logs))

    def ratio(matched, total):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, matched / np.where(total > 0, total, 1), 0.0)

    parts = (smoothed(t[:, 0:4], t[:, 4:8], brevity(t[:, 9], t[:, 8])),
             smoothed(t[:, 10:14], t[:, 14:18], brevity(2 * t[:, 18], t[:, 8])),
             ratio(t[:, 19], t[:, 20]), ratio(t[:, 21], t[:, 22]))
    out = sum(w * p for w, p in zip(WEIGHTS, parts))
    return out if np.ndim(totals) > 1 else float(out[0])

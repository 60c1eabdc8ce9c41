"""Second CodeBLEU column: the PyPI `codebleu` package (not the scorer the paper used).

`codebleu.calc_codebleu(..., lang="python")` on the same flattened inputs as the
paper-compatible scorer (`codebleu_paper`). It differs from the paper's CodeXGLUE evaluator
(docs/METRICS.md lists how): Python comment and docstring rules instead of Java ones, a
38-word keyword list, and a missing dataflow counted as 1 inside the combined score.
Reported next to the paper-compatible numbers, never instead of them.
"""
from __future__ import annotations

import logging

from repro.metrics.exact_match import normalize

_KEYS = {"codebleu": "codebleu", "ngram_match_score": "ngram_match",
         "weighted_ngram_match_score": "weighted_ngram_match",
         "syntax_match_score": "syntax_match", "dataflow_match_score": "dataflow_match"}


def corpus_codebleu(predictions: list[str], references: list[str], *, flatten: bool = True) -> dict:
    """Corpus CodeBLEU by the PyPI package, as fractions, keys as in `codebleu_paper`.

    `dataflow_match` is the package's component (0 when there is no reference dataflow);
    `codebleu` is the package's combined score, which counts that 0 as 1.
    """
    if len(predictions) != len(references):
        raise ValueError(f"corpus_codebleu needs one prediction per reference: got "
                         f"{len(predictions)} predictions and {len(references)} references")
    if not references:  # the package divides by zero on an empty corpus
        return dict.fromkeys(_KEYS.values(), 0.0)
    from codebleu import calc_codebleu

    prep = normalize if flatten else str.strip
    hyps = [prep(p) for p in predictions]
    refs = [prep(r) for r in references]
    # The package logs a warning for every corpus without reference dataflow; that is a
    # property of the data, reported in `dataflow_match`, not news for the log.
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        raw = calc_codebleu(refs, hyps, lang="python")
    finally:
        logger.setLevel(level)
    return {ours: float(raw[theirs]) for theirs, ours in _KEYS.items()}

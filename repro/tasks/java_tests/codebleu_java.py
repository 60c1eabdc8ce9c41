"""CodeBLEU for Java as the unit-test study computed it: the PyPI `codebleu` package.

`corpus_codebleu(predictions, references, tokenizer="identity")` calls
`codebleu.calc_codebleu([[ref] ...], predictions, "java", tokenizer=...)` with the standard
weights (0.25 each). Version 1 of the paper passed an identity tokenizer (`lambda x: x`),
so the package's n-gram parts compare the strings character by character; version 2 used
sacrebleu's 13a tokenizer (`tokenizer="13a"`), which gives other numbers (v1 and v2
CodeBLEU are not comparable). The syntax and dataflow parts parse Java with
tree-sitter-java either way. The study scored the salvaged predictions only; callers pass
those (syntax.py beside this file).
"""
from __future__ import annotations

import logging

_KEYS = {"codebleu": "codebleu", "ngram_match_score": "ngram_match",
         "weighted_ngram_match_score": "weighted_ngram_match",
         "syntax_match_score": "syntax_match", "dataflow_match_score": "dataflow_match"}


def _identity(text: str):
    return text


def _tokenizer_13a():
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    tok = Tokenizer13a()
    return lambda text: tok(text).split()


TOKENIZERS = {"identity": lambda: _identity, "13a": _tokenizer_13a}


def corpus_codebleu(predictions: list[str], references: list[str], tokenizer: str = "identity") -> dict:
    """Corpus CodeBLEU (fractions) with the named tokenizer; 0 for an empty corpus, as the study."""
    if len(predictions) != len(references):
        raise ValueError(f"corpus_codebleu needs one prediction per reference: got "
                         f"{len(predictions)} predictions and {len(references)} references")
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"unknown CodeBLEU tokenizer {tokenizer!r}; known: {', '.join(TOKENIZERS)}")
    if not references:
        return dict.fromkeys(_KEYS.values(), 0.0)
    from codebleu import calc_codebleu

    # The package warns once per corpus without reference dataflow: a property of the data,
    # reported in `dataflow_match`, not news for the log.
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        raw = calc_codebleu([[r] for r in references], list(predictions), "java",
                            tokenizer=TOKENIZERS[tokenizer]())
    finally:
        logger.setLevel(level)
    return {ours: float(raw[theirs]) for theirs, ours in _KEYS.items()}

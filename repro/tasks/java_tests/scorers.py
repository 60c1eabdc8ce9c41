"""The unit-test study's text scorers: `java-syntax` (validity with the salvage rule) and
`codebleu-java` / `codebleu-java-13a` (PyPI CodeBLEU for Java over salvaged predictions)."""
from __future__ import annotations

from repro.metrics import Scores, ScoringContext


def java_syntax_scorer(ctx: ScoringContext) -> Scores:
    """`syntax/valid`: share of top-1 predictions the unit-test study's salvage rule rescues."""
    from . import syntax as java_syntax

    result = java_syntax.score([c[0] if c else "" for c in ctx.candidates])
    metrics = {"syntax/valid": round(result["valid"], 4), "syntax/salvaged": result["valid_count"],
               "syntax/parses_as_is": round(result["parses_as_is"], 4)}
    return Scores(metrics, [{"salvaged": s} for s in result["salvaged"]])


def _codebleu_java(ctx: ScoringContext, name: str, tokenizer: str) -> Scores:
    """Corpus CodeBLEU (Java) over the salvaged predictions only, as the study."""
    from . import syntax as java_syntax
    from .codebleu_java import corpus_codebleu

    pairs = [(s, ref) for s, ref in zip((java_syntax.salvage(c[0]) if c else None for c in ctx.candidates),
                                        ctx.references) if s is not None]
    result = corpus_codebleu([p for p, _ in pairs], [r for _, r in pairs], tokenizer=tokenizer)
    metrics = {name: round(100.0 * result["codebleu"], 4)}
    metrics.update({f"{name}/{part}": round(100.0 * v, 4) for part, v in result.items() if part != "codebleu"})
    return Scores(metrics)


def codebleu_java_scorer(ctx: ScoringContext) -> Scores:
    return _codebleu_java(ctx, "codebleu-java", "identity")


def codebleu_java_13a_scorer(ctx: ScoringContext) -> Scores:
    return _codebleu_java(ctx, "codebleu-java-13a", "13a")

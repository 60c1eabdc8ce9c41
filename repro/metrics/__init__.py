"""Scorers: each metric is a module with pure functions over predictions and references.

`exact_match` (EM@k), `codebleu_paper` (CodeXGLUE-compatible CodeBLEU, the paper's),
`codebleu_pypi` (the PyPI `codebleu` package), `apps` (test-pass average, pass@k).
"""

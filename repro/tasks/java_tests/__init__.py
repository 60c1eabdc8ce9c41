"""Java unit-test generation (methods2test, HumanEval-X Java): the second study's task.

Beside this file: `stops.py` (the balanced-braces stop rule), `syntax.py` (validity with
the salvage rule), `codebleu_java.py` (PyPI CodeBLEU for Java), `scorers.py` (the text
scorers), `junit.py` (host side of JUnit + JaCoCo execution, the `junit` scorer) and
`java_runner.py` (what runs inside the sandbox).
"""
from __future__ import annotations

from repro.tasks.base import Task, Template

from .stops import balanced_braces_stop


def completion_pairs(rows) -> list[dict]:
    return [{"prompt": r["intent"], "target": r["code"]} for r in rows]


class JavaTests(Task):
    name = "java-tests"
    # Plain causal completion, no instruction text: the dataset's input field is the prompt
    # as is (a focal class and an open test method; a Java class up to an open method), its
    # reference field the target.
    templates = {"completion": Template(prompt=lambda row, examples, system_line, example_format: row["intent"],
                                        pairs=completion_pairs, takes_examples=False)}
    stop_rules = {"balanced-braces": balanced_braces_stop}
    scorers = {"java-syntax": "repro.tasks.java_tests.scorers:java_syntax_scorer",
               "codebleu-java": "repro.tasks.java_tests.scorers:codebleu_java_scorer",
               "codebleu-java-13a": "repro.tasks.java_tests.scorers:codebleu_java_13a_scorer",
               "junit": "repro.tasks.java_tests.junit:scorer"}


TASK = JavaTests()

"""HumanEval-X Java execution: salvaged solutions compiled and run against the problem's
tests as JUnit 4 tests with JaCoCo coverage, inside the sandbox; scored as the study did.

Host side only: `program_files(row, prediction)` builds the sources, `run_one` sends them
with `java_runner.py` beside this file (which runs inside the sandbox) and `evaluate` /
`scorer` turn the answers into records (`java_results.jsonl`) and metrics:
- `junit/pass@1`: passing solutions / salvaged predictions (not / all problems), percent;
- `junit/instruction_coverage`, `junit/branch_coverage`: JaCoCo coverage of the solution
  class, averaged over passing solutions only (a class without branches counts 0 %, as
  in the study's script), percent; 0 when nothing passes.
Java test code never runs outside the sandbox (`open_sandbox` refuses without one).
"""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from repro import records
from repro.errors import UserError
from repro.sandbox import Need, Setup

TIMEOUT_SECONDS = 30            # the study's limit for one test execution
JARS = {"junit": "/usr/share/java/junit4.jar", "hamcrest": "/usr/share/java/hamcrest-core.jar",
        "jacoco_agent": "/usr/share/java/org.jacoco.agent.jar",
        "jacoco_core": "/usr/share/java/org.jacoco.core.jar",
        "asm": ["/usr/share/java/asm.jar", "/usr/share/java/asm-commons.jar", "/usr/share/java/asm-tree.jar"]}
# Per request: the JVM reserves far more address space than a Python program, and runs a
# few dozen threads (each counts against the slot's process limit).
JAVA_LIMITS = {"memory_bytes": 4 << 30, "processes": 256, "open_files": 1024}
TEST_CLASS, TARGET_CLASS = "MainTest", "Solution"
RUNNER = Path(__file__).resolve().with_name("java_runner.py")
# The JDK's configuration (jvm.cfg, security) lives in /etc/java-*: mounted under bubblewrap.
SETUP = Setup(needs=(Need("java", programs=("javac", "java"), host_paths=("/etc/java-*",),
                          fix="`bash .ci/install-java.sh`"),))


if TYPE_CHECKING:
    from repro.metrics import Scores


def check_java_installed() -> None:
    missing = [p for p in [JARS["junit"], JARS["hamcrest"], JARS["jacoco_agent"], JARS["jacoco_core"], *JARS["asm"],
                           "/usr/bin/javac", "/usr/bin/java"] if not Path(p).exists()]
    if missing:
        raise UserError(f"Java test execution needs {', '.join(missing)}", field="metrics",
                        fix="run `bash .ci/install-java.sh` (Debian: default-jdk-headless junit4 libjacoco-java)")


def junit_test(test: str) -> str:
    """HumanEval-X's `public class Main { public static void main(String[] args) {...} }`
    as a JUnit 4 test class `MainTest` with one @Test method."""
    text = re.sub(r"public\s+class\s+Main\b", f"public class {TEST_CLASS}", test, count=1)
    text, n = re.subn(r"public\s+static\s+void\s+main\s*\(\s*String\s*\[\]\s*\w+\s*\)",
                      "@org.junit.Test public void test() throws Exception", text, count=1)
    if n != 1:
        raise UserError("the problem's test has no `public static void main(String[] args)`",
                        field="test", fix="use the HumanEval-X Java row unchanged")
    return text


def program_files(row: dict, solution: str) -> dict[str, str]:
    """Solution.java (declaration + salvaged prediction) and MainTest.java (the problem's
    tests, with the declaration's imports)."""
    declaration = row["declaration"]
    imports = declaration.split("class", 1)[0]
    return {f"{TARGET_CLASS}.java": declaration + solution,
            f"{TEST_CLASS}.java": imports + junit_test(row["test"])}


def run_one(sandbox, files: dict[str, str], timeout: float = TIMEOUT_SECONDS) -> dict:
    job = {"files": files, "test_class": TEST_CLASS, "target_class": TARGET_CLASS,
           "timeout": timeout, "jars": JARS}
    answer = sandbox.execute({"command": ["python", "java_runner.py"],
                              "files": {"java_runner.py": RUNNER.read_text(encoding="utf-8")},
                              "stdin": json.dumps(job), "timeout": 4 * timeout + 30,
                              "return_stdout": 1 << 16, "limits": JAVA_LIMITS})
    lines = (answer.get("stdout") or "").strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else None
    except ValueError:
        result = None
    if not isinstance(result, dict):
        tail = (answer.get("stderr") or "").strip().splitlines()
        return {"compiled": False, "passed": False, "timed_out": answer.get("status") == "timeout",
                "error": (tail[-1] if tail else answer.get("error") or f"status {answer.get('status')}")[:300]}
    return result


def ratio(counter) -> float:
    """covered / (covered + missed); 0 for a class without such items (the study's rule)."""
    if not counter:
        return 0.0
    covered, missed = counter
    return covered / (covered + missed) if covered + missed else 0.0


def summarize(results: list[dict | None]) -> dict:
    """Metrics over per-sample results (None: the prediction was not salvaged)."""
    ran = [r for r in results if r is not None]
    passing = [r for r in ran if r.get("passed")]

    def mean(values):
        return 100.0 * sum(values) / len(values) if values else 0.0

    return {"junit/pass@1": round(100.0 * len(passing) / len(ran), 4) if ran else 0.0,
            "junit/instruction_coverage": round(mean([ratio(r.get("instruction")) for r in passing]), 4),
            "junit/branch_coverage": round(mean([ratio(r.get("branch")) for r in passing]), 4),
            "junit/salvaged": len(ran), "junit/passed": len(passing),
            "junit/compiled": sum(1 for r in ran if r.get("compiled")),
            "junit/timed_out": sum(1 for r in ran if r.get("timed_out"))}


def evaluate(rows: list[dict], salvaged: list[str | None], sandbox, *, timeout: float = TIMEOUT_SECONDS,
             progress: bool = False) -> list[dict | None]:
    """One result per row (None where the prediction was not salvaged), in order."""
    from tqdm.auto import tqdm

    todo = [(i, program_files(rows[i], s)) for i, s in enumerate(salvaged) if s is not None]
    out: list[dict | None] = [None] * len(rows)
    workers = max(1, len(getattr(sandbox, "slots", [None])))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_one, sandbox, files, timeout): i for i, files in todo}
        for future in tqdm(futures, desc="JUnit", unit="program", disable=not progress):
            out[futures[future]] = future.result()
    return out


def scorer(ctx) -> "Scores":
    """The `junit` metric: salvage, execute in the sandbox, keep the records, score."""
    from repro.metrics import Scores
    from .syntax import salvage
    from repro.sandbox import open_sandbox

    check_java_installed()
    salvaged = [salvage(c[0]) if c else None for c in ctx.candidates]
    with open_sandbox(ctx.options.get("sandbox", "auto"), allow_unsafe=ctx.options.get("allow_unsafe", False),
                      setup=SETUP) as sb:
        info = sb.info()
        results = evaluate(ctx.samples, salvaged, sb, progress=ctx.progress)
    recs = [{"task_id": s.get("task_id"), "salvaged": r is not None, **(r or {})}
            for s, r in zip(ctx.samples, results)]
    # Verdicts and coverage are deterministic and pinned; the captured output (JUnit prints its
    # wall time) goes to java_details.jsonl, left out of the committed checksums like run.json.
    tails = ("stdout_tail", "stderr_tail", "error", "seconds", "time")
    details = [{"task_id": r["task_id"], **{k: r.pop(k) for k in tails if k in r}} for r in recs]
    records.write_jsonl(Path(ctx.out_dir) / "java_results.jsonl", recs)
    records.write_jsonl(Path(ctx.out_dir) / "java_details.jsonl", details)
    per_sample = [{"junit_passed": None if r is None else bool(r.get("passed"))} for r in results]
    return Scores(summarize(results), per_sample, meta={"sandbox": info, "junit_timeout_seconds": TIMEOUT_SECONDS})

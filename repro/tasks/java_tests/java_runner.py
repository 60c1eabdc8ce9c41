"""Runs ONE Java solution against its JUnit 4 test with JaCoCo, inside the sandbox.

Standard library only: the host sends this file as a `python` command (see junit.py
beside it) with a JSON job on stdin: {"files": {name: source}, "test_class",
"target_class", "timeout", "jars": {...}}. In the sandbox's private work directory it
compiles every file with javac, runs JUnitCore on the test class under the JaCoCo agent
(`timeout` seconds, the study's 30), then reads the execution data with JaCoCo's core API
(a small Java class below: Debian ships JaCoCo's agent and core but not its command-line
reporter) and prints one JSON line: compiled, passed, exit code, timed out, and the
target class's instruction and branch counters.
"""
import glob
import json
import os
import subprocess
import sys
import zipfile

COVERAGE_SUMMARY = r"""
import java.io.File;
import org.jacoco.core.analysis.Analyzer;
import org.jacoco.core.analysis.CoverageBuilder;
import org.jacoco.core.analysis.IClassCoverage;
import org.jacoco.core.tools.ExecFileLoader;

public class CoverageSummary {
    public static void main(String[] args) throws Exception {
        ExecFileLoader loader = new ExecFileLoader();
        loader.load(new File(args[0]));
        CoverageBuilder builder = new CoverageBuilder();
        new Analyzer(loader.getExecutionDataStore(), builder).analyzeAll(new File(args[1]));
        long ic = 0, im = 0, bc = 0, bm = 0;
        for (IClassCoverage c : builder.getClasses()) {
            String name = c.getName();
            if (name.equals(args[2]) || name.startsWith(args[2] + "$")) {
                ic += c.getInstructionCounter().getCoveredCount();
                im += c.getInstructionCounter().getMissedCount();
                bc += c.getBranchCounter().getCoveredCount();
                bm += c.getBranchCounter().getMissedCount();
            }
        }
        System.out.println("{\"instruction\": [" + ic + ", " + im + "], \"branch\": [" + bc + ", " + bm + "]}");
    }
}
"""
# Small, fixed JVM footprint: the sandbox caps address space and processes per slot.
JVM_OPTIONS = ("-Xmx256m -Xss1m -XX:CompressedClassSpaceSize=64m -XX:ReservedCodeCacheSize=48m "
               "-XX:MaxMetaspaceSize=128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "
               "-XX:CICompilerCount=1 -XX:-UsePerfData -Djava.io.tmpdir=.")


def tail(text, n=1500):
    return text[-n:] if text else ""


def run(cmd, timeout, env):
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        return done.returncode, done.stdout, done.stderr, False
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return None, out, "", True


def main():
    job = json.loads(sys.stdin.read())
    jars = job["jars"]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": os.getcwd(),
           "JAVA_TOOL_OPTIONS": JVM_OPTIONS}
    os.makedirs("src")
    os.makedirs("classes")
    os.makedirs("tools")
    for name, text in job["files"].items():
        with open(os.path.join("src", name), "w", encoding="utf-8") as fh:
            fh.write(text)
    with open("CoverageSummary.java", "w", encoding="utf-8") as fh:
        fh.write(COVERAGE_SUMMARY)
    test_cp = ":".join([jars["junit"], jars["hamcrest"]])
    core_cp = ":".join([jars["jacoco_core"]] + jars["asm"])
    result = {"compiled": False, "passed": False, "exit_code": None, "timed_out": False,
              "instruction": None, "branch": None}
    code, out, err, late = run(["javac", "-nowarn", "-encoding", "UTF-8", "-d", "classes", "-cp", test_cp]
                               + sorted(glob.glob("src/*.java")), job["timeout"], env)
    if code != 0:
        result["compile_error"] = tail(out + err)
        result["timed_out"] = late
        print(json.dumps(result))
        return
    result["compiled"] = True
    # Debian ships the runnable agent nested in org.jacoco.agent.jar: unpack it here.
    with zipfile.ZipFile(jars["jacoco_agent"]) as zf, open("jacocoagent.jar", "wb") as fh:
        fh.write(zf.read("jacocoagent.jar"))
    agent = "-javaagent:jacocoagent.jar=destfile=jacoco.exec"
    code, out, err, late = run(["java", agent, "-cp", "classes:" + test_cp, "org.junit.runner.JUnitCore",
                                job["test_class"]], job["timeout"], env)
    result.update(exit_code=code, timed_out=late, stdout_tail=tail(out), stderr_tail=tail(err, 600))
    # JUnitCore prints "OK (n tests)" only when it ran to the end and every test passed: a
    # program that calls System.exit(0) from a test exits 0 without it and does not pass.
    result["passed"] = code == 0 and "\nOK (" in "\n" + out
    if os.path.exists("jacoco.exec"):
        rc, _, err2, _ = run(["javac", "-nowarn", "-d", "tools", "-cp", core_cp, "CoverageSummary.java"],
                             job["timeout"], env)
        if rc == 0:
            rc, cov, err3, _ = run(["java", "-cp", "tools:" + core_cp, "CoverageSummary", "jacoco.exec",
                                    "classes", job["target_class"]], job["timeout"], env)
            if rc == 0 and cov.strip():
                result.update(json.loads(cov.strip().splitlines()[-1]))
            else:
                result["coverage_error"] = tail(err3, 600)
        else:
            result["coverage_error"] = tail(err2, 600)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

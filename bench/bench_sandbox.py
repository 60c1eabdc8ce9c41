"""Throughput of APPS-style test execution: bare subprocesses, the unsandboxed fork
server, the sandbox backends, and one process per program as the reference harness does.

Writes docs/performance/sandbox.md. Workload: PROGRAMS programs x TESTS stdin tests of a
small a*b program, on SLOTS parallel slots; plus the time to start and close a pool.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from repro.tasks.apps.harness import SETUP, evaluate, open_apps_sandbox  # noqa: E402
from repro.records import write_atomic  # noqa: E402
from repro.sandbox import Sandbox, SandboxUnavailable  # noqa: E402
from repro.sandbox.unsafe import UnsafeSubprocessLauncher  # noqa: E402

PROGRAMS, TESTS, SLOTS = 24, 21, 2
# Throughput targets (test executions/s on 2 cores, every protection on).
TARGETS = {"strict": 150, "paper": 250}
DOCKER_SHARE = 0.8  # Docker within 80 % of bubblewrap
CODE = "a, b = map(int, input().split())\nprint(a * b)\n"
IO = {"inputs": [f"{i} {i + 1}\n" for i in range(TESTS)],
      "outputs": [f"{i * (i + 1)}\n" for i in range(TESTS)]}
PROBLEMS = {"p": {"problem_id": "p", "input_output": json.dumps(IO), "difficulty": "interview"}}
SAMPLES = [{"problem_id": "p", "sample": i, "code": CODE} for i in range(PROGRAMS)]
PAPER_ONE_PROCESS = (
    "import sys, json, numpy, unittest.mock; sys.path[:0] = sys.argv[1].split(':'); "
    "import apps_child; "
    "r = apps_child.paper({'code': sys.argv[2], 'inputs': json.loads(sys.argv[3])['inputs']}); "
    "assert [t['lines'] for t in r['tests']] == [[o.strip()] for o in json.loads(sys.argv[3])['outputs']], r")


def timed(label, fn):
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return {"setup": label, "seconds": seconds, "programs_per_s": PROGRAMS / seconds,
            "tests_per_s": PROGRAMS * TESTS / seconds}


def bare_subprocess():
    def one_program(_):
        for i in range(TESTS):
            out = subprocess.run([sys.executable, "-S", "-c", CODE], input=IO["inputs"][i],
                                 capture_output=True, text=True).stdout
            assert out == IO["outputs"][i]
    with ThreadPoolExecutor(SLOTS) as pool:
        list(pool.map(one_program, range(PROGRAMS)))


def process_per_program():
    here = f"{ROOT / 'repro' / 'tasks' / 'apps'}:{ROOT / 'repro' / 'sandbox'}"  # apps_child, values, pyscript
    def one_program(_):
        subprocess.run(["/usr/bin/python3", "-c", PAPER_ONE_PROCESS, here, CODE,
                        json.dumps(IO)], check=True,
                       env={"PYTHONPATH": "/usr/lib/python3/dist-packages"})
    with ThreadPoolExecutor(SLOTS) as pool:
        list(pool.map(one_program, range(PROGRAMS)))


def open_backend(backend):
    if backend == "unsafe-subprocess":  # same interpreter as bubblewrap: a fair baseline
        return Sandbox(UnsafeSubprocessLauncher("/usr/bin/python3",
                                                ["/usr/lib/python3/dist-packages"]),
                       slots=SLOTS, warning="benchmark baseline without isolation", setup=SETUP)
    return open_apps_sandbox(backend, slots=SLOTS)


def backend_runs(backend, mode):
    def run():
        with open_backend(backend) as sb:
            records = evaluate(SAMPLES, PROBLEMS, mode=mode, sandbox=sb, progress=False)
        assert all(r["results"] == [True] * TESTS for r in records)
    return run


def pool_start(backend):
    start = time.perf_counter()
    with open_backend(backend) as sb:
        opened = time.perf_counter() - start
        sb.run("pass")
    return opened, time.perf_counter() - start


def docker_engine():
    try:
        from repro.sandbox.docker_backend import IMAGE, connect
        client, version, image = connect()
        client.close()
        return f"Docker engine {version}, image {IMAGE} ({image.id[:19]})"
    except SandboxUnavailable as exc:
        return str(exc).splitlines()[0]


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    versions = {name: metadata.version(name)
                for name in ("pyseccomp", "docker", "numpy", "tqdm")}
    bwrap = subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"- CPU: {cpu}, {os.cpu_count()} cores; kernel {platform.release()}\n"
            f"- host Python {platform.python_version()}; sandbox python "
            f"{subprocess.run(['/usr/bin/python3', '-V'], capture_output=True, text=True).stdout.strip()}; "
            f"{bwrap or 'bwrap absent'}; {docker_engine()}\n- packages: {versions}\n")


def target_rows(rows) -> list[str]:
    measured = {r["setup"]: r["tests_per_s"] for r in rows if "tests_per_s" in r}
    out = []
    for mode, target in TARGETS.items():
        bwrap = measured.get(f"bubblewrap fork server, {mode} mode")
        docker = measured.get(f"docker fork server, {mode} mode")
        out.append(f"| bubblewrap {mode} >= {target}/s | "
                   + (f"{bwrap:.0f}/s | {'yes' if bwrap >= target else 'NO'} |" if bwrap else "not run | |"))
        if bwrap and docker:
            share = docker / bwrap
            out.append(f"| docker {mode} >= {DOCKER_SHARE:.0%} of bubblewrap | {share:.0%} | "
                       f"{'yes' if share >= DOCKER_SHARE else 'NO'} |")
    return out


def main():
    load_before = os.getloadavg()[0]
    rows = [timed("bare subprocess per test (no sandbox)", bare_subprocess),
            timed("one process per program, in-process exec (reference style, no sandbox)",
                  process_per_program)]
    for backend in ("unsafe-subprocess", "bubblewrap", "docker"):
        for mode in ("strict", "paper"):
            try:
                rows.append(timed(f"{backend} fork server, {mode} mode",
                                  backend_runs(backend, mode)))
            except SandboxUnavailable as exc:
                rows.append({"setup": f"{backend}, {mode} mode", "skipped": str(exc).splitlines()[0]})
    load_during = f"{load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end, {os.cpu_count()} cores"
    base = {r["setup"].split(",")[1].strip(): r for r in rows
            if r["setup"].startswith("unsafe-subprocess") and "seconds" in r}
    lines = ["# Sandbox throughput\n", f"Workload: {PROGRAMS} programs x {TESTS} stdin tests "
             f"(`a*b`), {SLOTS} slots. Produced by `bench/bench_sandbox.py`.\n", machine(),
             "| setup | seconds | programs/s | test executions/s | vs unsandboxed fork server |",
             "|---|---|---|---|---|"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['setup']} | skipped: {r['skipped']} | | | |")
            continue
        mode = r["setup"].split(",")[-1].strip()
        ratio = ""
        if "fork server" in r["setup"] and mode in base:
            ratio = f"{r['seconds'] and base[mode]['seconds'] / r['seconds']:.0%}"
        lines.append(f"| {r['setup']} | {r['seconds']:.2f} | {r['programs_per_s']:.1f} | "
                     f"{r['tests_per_s']:.0f} | {ratio} |")
    lines += ["", f"Targets (load average during the run: {load_during}):", "",
              "| target | measured | met |", "|---|---|---|"]
    lines += target_rows(rows)
    lines += ["", "Starting a pool of 2 slots (and closing it after one run):", "",
              "| backend | open seconds | open + run + close seconds |", "|---|---|---|"]
    for backend in ("bubblewrap", "docker"):
        try:
            opened, total = pool_start(backend)
            lines.append(f"| {backend} | {opened:.2f} | {total:.2f} |")
        except SandboxUnavailable as exc:
            lines.append(f"| {backend} | skipped: {str(exc).splitlines()[0]} | |")
    text = "\n".join(lines) + "\n"
    write_atomic(ROOT / "docs" / "performance" / "sandbox.md", text)
    print(text)


if __name__ == "__main__":
    main()

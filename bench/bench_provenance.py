"""Benchmark: cost of `repro.provenance.collect()` (run once per run.json).

Measures a cold call (fresh interpreter: import plus first collect, torch not imported)
and warm calls, and writes docs/performance/provenance.md with the machine description.
"""
from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from repro import provenance  # noqa: E402
from repro.records import write_atomic  # noqa: E402

COLD_RUNS, WARM_RUNS = 5, 20
ENTRY = {"id": "rq2/lora/codellama-7b-python/conala", "method": {"name": "lora", "r": 16}}
COLD = ("import time; t = time.perf_counter(); import repro.provenance as p; "
        "p.collect({'id': 'x'}); print(time.perf_counter() - t)")


def main() -> None:
    cold = [float(subprocess.run([sys.executable, "-c", COLD], cwd=REPO, check=True,
                                 capture_output=True, text=True).stdout) for _ in range(COLD_RUNS)]
    warm = []
    for _ in range(WARM_RUNS):
        start = time.perf_counter()
        record = provenance.collect(ENTRY)
        warm.append(time.perf_counter() - start)
    versions = provenance.package_versions(("torch", "transformers", "peft"))
    lines = [
        "# provenance.collect() cost",
        "",
        "Written by `bench/bench_provenance.py` (`make bench`).",
        "",
        f"- machine: {record['cpu']['model']}, {record['cpu']['logical_cores']} cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- GPU: {record['gpu']['model']}",
        "",
        "| call | runs | median (s) | max (s) |",
        "|---|---|---|---|",
        f"| cold (new interpreter: import + first collect) | {COLD_RUNS} | "
        f"{statistics.median(cold):.3f} | {max(cold):.3f} |",
        f"| warm (collect only) | {WARM_RUNS} | {statistics.median(warm):.3f} | {max(warm):.3f} |",
        "",
        "Most of the time is the two `git` subprocesses and one scan of the installed",
        "distributions; torch is never imported by `collect()`.",
        "",
    ]
    out = write_atomic(REPO / "docs" / "performance" / "provenance.md", "\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

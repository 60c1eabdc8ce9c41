"""The smoke reproduction as a 4-task job array on a real SLURM cluster (`make test-slurm`).

Needs the single-node cluster of `make slurm-up` (SLURM_CONF pointing at it) and a complete
single-machine smoke run in results/smoke (`make smoke`), whose report the array's must equal.
Submits `repro submit --shards 4 --executor slurm`, cancels one array task mid-run
(`scancel`), resubmits with `--resume` and checks that only that shard ran again, that the
merged outputs match checksums/smoke.sha256 byte for byte, that no two shards wrote the same
run and that no evaluation started before its train run had completed. Also: a shard that
stops on bad input shows the same error in `repro status` as `repro reproduce` prints locally.
Heavy (the whole smoke, ~45 runs): it runs only with REPRO_SLURM_TESTS=1, not in `make test`.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repro import records
from repro.manifest import load_manifest
from repro.status import collect, read_record
from repro.verify import check_expected

pytestmark = pytest.mark.skipif(os.environ.get("REPRO_SLURM_TESTS") != "1",
                                reason="real-cluster test: run it with `make test-slurm` (starts a single-node SLURM)")

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "manifests" / "smoke.yaml"
SUMS = REPO / "checksums" / "smoke.sha256"
# A complete single-machine smoke run (`make smoke` writes it here; another checkout's may be named instead).
SINGLE_MACHINE = Path(os.environ.get("REPRO_SINGLE_MACHINE_SMOKE", REPO / "results" / "smoke"))
# One CPU and 4 GB per task: two tasks at a time on a 2-core machine.
RESOURCES = ["--executor", "slurm", "--gpus", "0", "--cpus", "1", "--mem-gb", "4", "--timeout-min", "120"]
DEADLINE_S = int(os.environ.get("REPRO_SLURM_TEST_TIMEOUT", "3600"))


def repro(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "0", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.setdefault("REPRO_ARTIFACTS", str(REPO / "artifacts"))  # sbatch exports this to every task
    return subprocess.run([sys.executable, "-m", "repro", *args], capture_output=True, text=True, cwd=REPO, env=env)


def wait_until_idle(manifest, out, every=5.0):
    start = time.monotonic()
    while True:
        shards, _ = collect(manifest, out)
        if not any(s["state"] in ("queued", "running") for s in shards):
            return shards
        assert time.monotonic() - start < DEADLINE_S, f"shards still busy after {DEADLINE_S} s: {shards}"
        time.sleep(every)


@pytest.fixture(scope="module")
def cluster():
    conf = os.environ.get("SLURM_CONF")
    assert conf and Path(conf).is_file() and shutil.which("sbatch"), \
        "no SLURM cluster: run `make slurm-up` and export SLURM_CONF=build/slurm/slurm.conf (or `make test-slurm`)"
    states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True).stdout.split()
    assert states and set(states) <= {"idle", "mixed", "allocated"}, f"node not ready: {states}"


def error_block(text: str) -> str:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    return "\n".join([lines[start]] + [line for line in lines[start + 1:start + 4] if line.startswith("  ")])


def test_bad_input_shard_fails_with_the_local_error(cluster, tmp_path):
    manifest = tmp_path / "bad.yaml"
    manifest.write_text("manifest_version: 1\nstudy: bad\n"
                        "defaults: {model: tiny-llama, dataset: conala-bundled, rq: smoke, limit: 1, metrics: [em], code_version: tosem}\n"
                        "runs:\n  - id: bad-retriever\n    prompting: {strategy: rag, n: 1, retriever: gte-small}\n")
    local = repro("reproduce", "-m", str(manifest), "--out", str(tmp_path / "local"), "-q")
    assert local.returncode == 2, local.stderr
    out = tmp_path / "results"
    sub = repro("submit", "-m", str(manifest), "--shards", "1", "--out", str(out), *RESOURCES)
    assert sub.returncode == 0, sub.stderr
    shards = wait_until_idle(load_manifest(manifest), out, every=2)
    assert [(s["state"], s["scheduler"]) for s in shards] == [("failed", "FAILED")]
    status = repro("status", "-m", str(manifest), "--results", str(out))
    assert status.returncode == 0, status.stderr
    assert error_block(local.stderr) in status.stdout and shards[0]["log"] in status.stdout
    assert Path(shards[0]["log"]).is_file()


def test_smoke_array_cancel_resume_matches_checksums(cluster, tmp_path):
    manifest, out, record = submit_cancel_resume(SMOKE, tmp_path / "smoke", shards=4)

    # Byte for byte what one machine writes, and every checksum verifies.
    ids = [r.id for r in manifest.runs]
    assert check_expected(out, ids, SUMS) == []
    assert records.verify_tree(out) == []
    assert_shards_never_overlap_and_train_precedes_evaluation(manifest, out, record)
    # Programs ran isolated inside the SLURM tasks (APPS and JUnit runs record their sandbox).
    backends = {r.id: json.loads((out / r.id / "run.json").read_text())["sandbox"]["backend"]
                for r in manifest.runs if "sandbox" in json.loads((out / r.id / "run.json").read_text())}
    print(f"sandboxes used inside the SLURM tasks: {backends}")
    assert backends and set(backends.values()) <= {"bubblewrap", "docker"} and "bubblewrap" in backends.values()

    # The report over the shared directory says what the single-machine one says.
    assert not check_expected(SINGLE_MACHINE, ids, SUMS), \
        "results/smoke must hold a complete single-machine smoke run: `make smoke` first"
    reports = {}
    for name, results in (("shards", out), ("single", SINGLE_MACHINE)):
        rep = repro("report", "-m", str(SMOKE), "--results", str(results), "--out", str(tmp_path / f"report-{name}"))
        assert rep.returncode == 0, rep.stdout[-2000:] + rep.stderr
        reports[name] = (tmp_path / f"report-{name}" / "report.md").read_text().replace(str(results), "<results>")
    print(reports["shards"])
    assert reports["shards"] == reports["single"]


def submit_cancel_resume(path: Path, out: Path, shards: int):
    """Submit `shards` array tasks, cancel one mid-run, check status, resume, wait until complete."""
    manifest = load_manifest(path)
    sub = repro("submit", "-m", str(path), "--shards", str(shards), "--out", str(out), *RESOURCES)
    assert sub.returncode == 0, sub.stderr
    record = read_record(out)
    first_jobs = record["attempts"][0]["jobs"]
    assert len({j["job_id"].split("_")[0] for j in first_jobs.values()}) == 1  # one job array
    assert sorted(j["job_id"].split("_")[1] for j in first_jobs.values()) == [str(i) for i in range(shards)]

    # Cancel a task while it runs a run, after it has completed one and with more still to do.
    victim, start = None, time.monotonic()
    while victim is None:
        shard_rows, runs = collect(manifest, out)
        for s in shard_rows:
            states = [r["state"] for r in runs if r["shard"] == s["shard"]]
            if s["state"] == "running" and "done" in states and "running" in states and states.count("not started") >= 2:
                victim = s
                break
        assert victim or time.monotonic() - start < DEADLINE_S, "no shard reached the point to cancel it"
        time.sleep(2)
    subprocess.run(["scancel", victim["job_id"]], check=True)
    start = time.monotonic()
    while True:  # the other shards run on; resume as soon as the cancelled one has ended
        by_name = {s["shard"]: s for s in collect(manifest, out)[0]}
        if by_name[victim["shard"]]["state"] not in ("queued", "running"):
            break
        assert time.monotonic() - start < 300, "the cancelled task did not end"
        time.sleep(2)
    assert by_name[victim["shard"]]["state"] == "failed" and by_name[victim["shard"]]["scheduler"] == "CANCELLED"
    _, runs = collect(manifest, out)
    left = [r["state"] for r in runs if r["shard"] == victim["shard"] and r["state"] != "done"]
    # The run it was in the middle of stays partial ("failed"), the later ones were never started.
    assert left and set(left) <= {"failed", "not started"} and left.count("failed") <= 1, left
    status = repro("status", "-m", str(path), "--results", str(out))
    assert victim["job_id"] in status.stdout and "CANCELLED" in status.stdout
    assert by_name[victim["shard"]]["log"] in status.stdout
    done_before = {r["run"]: (out / r["run"] / "run.json").stat().st_mtime_ns for r in runs if r["state"] == "done"}

    resumed = repro("submit", "-m", str(path), "--out", str(out), "--resume", *RESOURCES)
    assert resumed.returncode == 0, resumed.stderr
    record = read_record(out)
    assert list(record["attempts"][-1]["jobs"]) == [victim["shard"]]  # only the incomplete shard
    shard_rows = wait_until_idle(manifest, out)
    assert all(s["state"] == "done" for s in shard_rows), shard_rows
    assert {rid: (out / rid / "run.json").stat().st_mtime_ns for rid in done_before} == done_before  # not re-run
    return manifest, out, record


def assert_shards_never_overlap_and_train_precedes_evaluation(manifest, out, record):
    """From the tasks' own logs: each run was worked on by one shard only, and every
    evaluation began (by its run.json: written at the end, minus its wall time) after its
    train run's directory was complete."""
    headers: dict[str, set] = {}
    for attempt in record["attempts"]:
        for shard, job in attempt["jobs"].items():
            for rid in re.findall(r"^== (\S+) \(", Path(job["stdout"]).read_text(), flags=re.M):
                headers.setdefault(rid, set()).add(shard)
    assert set(headers) == {r.id for r in manifest.runs}
    assert all(len(shards) == 1 for shards in headers.values()), {k: v for k, v in headers.items() if len(v) > 1}
    for run in manifest.runs:
        src = run.config.get("adapter_from")
        if not src:
            continue
        assert headers[src] == headers[run.id]  # the shard that trains also evaluates
        meta = json.loads((out / run.id / "run.json").read_text())
        began = (out / run.id / "run.json").stat().st_mtime - meta["wall_seconds"]
        assert (out / src / records.SUMS_NAME).stat().st_mtime <= began, run.id

"""`repro submit` resources, memory classes and dry run; `repro status` and its error display.

No scheduler is needed here: the dry run renders submitit's own sbatch file, and the
bad-input case runs on submitit's local executor. The real SLURM cluster is exercised by
tests/test_slurm_cluster.py (`make test-slurm`).
"""
import subprocess
import sys
from pathlib import Path

import pytest

from repro.cli import main
from repro.errors import UserError
from repro.launch import load_profile, merge_resources, plan_shards, slurm_parameters
from repro.manifest import load_manifest
from repro.plan import estimate
from repro.status import expand_job_ids, last_error, shard_state

REPO = Path(__file__).resolve().parent.parent
PROFILE = """\
partition: gpu
account: proj-123
qos: normal
gpus: 1
cpus: 8
mem_gb: 64
timeout_min: 600
parallel: 8
sbatch_flags: ["--constraint=ampere", "--exclusive"]
setup: ["module load cuda/12.1"]
memory_classes:
  - {name: small, gpu_memory_gb: 16, gres: "gpu:a4000:1", mem_gb: 32}
  - {name: large, gpu_memory_gb: 80, gres: "gpu:a100:1", mem_gb: 128, timeout_min: 2880}
"""


@pytest.fixture
def profile(tmp_path):
    path = tmp_path / "cluster.yaml"
    path.write_text(PROFILE)
    return path


@pytest.mark.parametrize("text, field", [
    ("partitoin: gpu\n", "partitoin"),
    ("cpus: -1\n", "cpus"),
    ("sbatch_flags: --exclusive\n", "sbatch_flags"),
    ("memory_classes:\n  - {name: small}\n", "memory_classes[0]"),
    ("memory_classes:\n  - {name: s, gpu_memory_gb: 24, gress: x}\n", "memory_classes[0].gress"),
])
def test_bad_profile_names_file_and_field(tmp_path, text, field):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as e:
        load_profile(str(path))
    assert str(path) in str(e.value) and f"field '{field}'" in str(e.value) and "fix:" in str(e.value)


def test_command_line_overrides_profile(profile):
    res = merge_resources(load_profile(str(profile)), {"qos": "high", "mem_gb": 16, "gres": "gpu:2"})
    params = slurm_parameters(res, "repro-x")
    assert params["qos"] == "high" and params["mem"] == "16GB" and params["account"] == "proj-123"
    assert params["gres"] == "gpu:2" and "gpus_per_node" not in params  # --gres replaces --gpus
    assert params["time"] == 600 and params["cpus_per_task"] == 8 and params["array_parallelism"] == 8
    assert params["additional_parameters"] == {"constraint": "ampere", "exclusive": True}
    assert params["setup"] == ["module load cuda/12.1"]


def test_dry_run_prints_the_sbatch_file_and_submits_nothing(tmp_path, profile, capsys):
    out = tmp_path / "results"
    assert main(["submit", "-m", "manifests/smoke.yaml", "--shards", "4", "--executor", "slurm", "--out", str(out),
                 "--profile", str(profile), "--qos", "high", "--sbatch-flag=--mail-type=END", "--dry-run"]) == 0
    text = capsys.readouterr().out
    for line in ["#SBATCH --array=0-3%4", "#SBATCH --partition=gpu", "#SBATCH --account=proj-123",
                 "#SBATCH --qos=high", "#SBATCH --gpus-per-node=1", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=64GB",
                 "#SBATCH --time=600", "#SBATCH --constraint=ampere", "#SBATCH --exclusive", "#SBATCH --mail-type=END",
                 "module load cuda/12.1", "#SBATCH --job-name=repro-smoke"]:
        assert line in text, line
    assert not out.exists()


def test_dry_run_shows_each_shards_estimated_gpu_hours(tmp_path, capsys):
    """The table's GPU-h column is `repro plan`'s hours of the shard's runs: the 8 shards of the
    paper manifest add up to the plan's total (their balance: tests/test_shard.py)."""
    assert main(["submit", "-m", "manifests/paper", "--shards", "8", "--executor", "slurm", "--gpus", "1",
                 "--out", str(tmp_path / "r"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:9] == ["shard", "runs", "memory", "class", "peak", "GB", "(est.)", "GPU-h", "(est.)"]
    rows = [line.split() for line in lines if line.split() and line.split()[0].endswith("/8")]
    shown = [float(r[4]) for r in rows]   # shard, runs, memory class "-", peak GB "-", GPU-h, ...
    total = sum(estimate(r, 24.0).gpu_hours for r in load_manifest("manifests/paper").runs)
    assert len(shown) == 8 and abs(sum(shown) - total) <= 0.05 * 8


def test_code_version_reaches_every_shard(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["submit", "-m", "manifests/smoke.yaml", "--shards", "2", "--executor", "local", "--out", str(out),
                 "--code-version", "tosem", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "--code-version tosem" in text and "--shard 0/2" in text, text
    assert not out.exists()


def test_group_by_memory_keeps_train_runs_with_their_evaluations(profile, capsys):
    """Paper manifest: every shard's runs fit its class's GPU by `repro plan`; small runs on the
    small class; shards partition the runs; a train run precedes its evaluations in its shard."""
    m = load_manifest("manifests/paper")
    classes = load_profile(str(profile))["memory_classes"]
    shards = plan_shards(m, m.runs, 16, "/r", merge_resources(load_profile(str(profile))), classes=classes)
    seen = [rid for s in shards for rid in s.runs]
    assert sorted(seen) == sorted(r.id for r in m.runs)
    by_id = {r.id: r for r in m.runs}
    gpu = {c["name"]: c["gpu_memory_gb"] for c in classes}
    assert {s.memory_class for s in shards} == {"small", "large"}
    for s in shards:
        assert s.resources["gres"] == {"small": "gpu:a4000:1", "large": "gpu:a100:1"}[s.memory_class]
        for k, rid in enumerate(s.runs):
            run = by_id[rid]
            src = run.config.get("adapter_from")
            if src:
                assert src in s.runs[:k]
            if s.memory_class == "small":
                assert estimate(run, gpu["small"]).fits != "NO"
        argv_ids = s.argv[s.argv.index("--only") + 1].split(",")
        assert argv_ids == s.runs
    # A group (a train run and its evaluations) lands in "large" exactly when some run of it does not fit 16 GB.
    from repro.shard import groups

    home = {rid: s.memory_class for s in shards for rid in s.runs}
    for group in groups(m.runs):
        fits_small = all(estimate(r, gpu["small"]).fits != "NO" for r in group)
        assert {home[r.id] for r in group} == {"small" if fits_small else "large"}
    assert main(["submit", "-m", "manifests/paper", "--shards", "16", "--profile", str(profile),
                 "--group-by-memory", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "#SBATCH --gres=gpu:a100:1" in text and "#SBATCH --gres=gpu:a4000:1" in text
    assert "#SBATCH --job-name=repro-paper-large" in text and "#SBATCH --time=2880" in text


def test_more_shards_than_groups_is_a_user_error():
    m = load_manifest("manifests/smoke.yaml")
    with pytest.raises(UserError, match="some shards would be empty"):
        plan_shards(m, m.runs, 1000, "/r", merge_resources())


def test_group_by_memory_needs_classes(capsys):
    assert main(["submit", "-m", "manifests/smoke.yaml", "--shards", "2", "--group-by-memory", "--dry-run"]) == 2
    assert "memory_classes" in capsys.readouterr().err


def test_expand_array_ids():
    assert expand_job_ids("12_[0-2,5%2]") == ["12_0", "12_1", "12_2", "12_5"]
    assert expand_job_ids("12_3") == ["12_3"]


@pytest.mark.parametrize("job, runs, expected", [
    (None, ["not started"], "not submitted"), ("PENDING", ["not started"], "queued"),
    ("RUNNING", ["done", "running"], "running"), ("CANCELLED", ["done", "failed"], "failed"),
    ("COMPLETED", ["done", "not started"], "failed"), ("UNKNOWN", ["done", "done"], "done"),
    ("NO ANSWER", ["done", "not started"], "unknown"),
])
def test_shard_state(job, runs, expected):
    assert shard_state(job, runs) == expected


def test_status_without_a_scheduler_says_unknown(monkeypatch):
    from repro import status

    monkeypatch.setenv("PATH", "/nonexistent")  # neither sacct nor squeue
    assert status.slurm_states(["12_0"]) == {"12_0": status.UNREACHABLE}


def test_last_error_is_the_package_error_block(tmp_path):
    log = tmp_path / "x_log.err"
    log.write_text("noise\nerror: bad thing (field 'f')\n  fix: do this\nTraceback (most recent call last):\n  x\n")
    assert last_error(str(log)) == "error: bad thing (field 'f')\n  fix: do this"
    log.write_text("submitit WARNING - Bypassing signal SIGTERM\n"
                   "slurmstepd-vm: error: *** STEP 16.0 ON vm CANCELLED AT 2026-12-02T12:46:17 ***\n"
                   "interrupted: completed runs are kept; re-run the same command to resume\n"
                   "RuntimeError: shard stopped\nsrun: error: vm: task 0: Killed\n")
    assert last_error(str(log)) == ("slurmstepd-vm: error: *** STEP 16.0 ON vm CANCELLED AT 2026-12-02T12:46:17 ***\n"
                                    "interrupted: completed runs are kept; re-run the same command to resume")


BAD = """\
manifest_version: 1
study: bad
defaults: {model: tiny-llama, dataset: conala-bundled, rq: smoke, limit: 1, metrics: [em], code_version: tosem}
runs:
  - id: bad-retriever
    prompting: {strategy: rag, n: 1, retriever: gte-small}
"""


def error_block(text: str) -> str:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    block = [lines[start]] + [line for line in lines[start + 1:] if line.startswith("  ")][:3]
    return "\n".join(block)


def test_bad_input_in_a_shard_shows_the_local_error_in_status(tmp_path, capsys):
    """A run-time input error (a retriever with no pinned revision) stops the shard with the
    same message `repro reproduce` prints on one machine, and `repro status` shows it."""
    import submitit  # noqa: F401  (pinned in requirements/cpu.txt: missing is a failure)
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(BAD)
    local = subprocess.run([sys.executable, "-m", "repro", "reproduce", "-m", str(manifest), "--out",
                            str(tmp_path / "local"), "-q"], capture_output=True, text=True, cwd=REPO)
    assert local.returncode == 2
    out = tmp_path / "results"
    main(["submit", "-m", str(manifest), "--shards", "1", "--executor", "local", "--out", str(out),
          "--wait", "--poll-seconds", "0.5"])
    capsys.readouterr()
    assert main(["status", "-m", str(manifest), "--results", str(out)]) == 0
    text = capsys.readouterr().out
    assert "failed" in text and "_log.err" in text
    assert error_block(local.stderr) in text
    from repro.status import collect

    shards, runs = collect(load_manifest(manifest), out)
    assert [(s["state"], s["scheduler"]) for s in shards] == [("failed", "FAILED")]
    assert [r["state"] for r in runs] == ["failed"]

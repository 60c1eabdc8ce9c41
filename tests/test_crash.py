"""Crash safety: `repro reproduce` killed with SIGKILL during training, while saving weights,
during generation and while the APPS sandbox runs, then resumed (the last time by two
processes at once), ends with outputs byte-identical to checksums/smoke.sha256, no sandbox
process outliving its owner, and nothing left outside the run directories (no `.partial`,
no `*.tmp`, no `repro-*` folder in the temp directory). Also: leftovers of dead processes
are swept and live ones kept, and a file dropped into a finished run is set aside once
instead of failing every later `reproduce`.

The kill points are found deterministically: a complete checkpoint on disk (training), the
generation progress bar (generation), the sandbox's bwrap processes under `reproduce`
(APPS), and the one test hook `REPRO_TEST_KILL_AT=saving-weights` (repro/pipeline.py) for
the save, which is too short to hit from outside.
"""
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from repro import records, scratch
from repro.cli import main
from repro.pipeline import sweep_leftovers
from repro.manifest import load_manifest
from repro.verify import check_expected

REPO = Path(__file__).resolve().parent.parent
SUMS = REPO / "checksums" / "smoke.sha256"
# One train run, the evaluation that loads its weights, one APPS run through the sandbox:
# smoke runs, so their lines of checksums/smoke.sha256 apply (check_expected takes a subset).
TRAIN, EVAL, APPS = "llama-ia3-train", "llama-ia3", "apps-reference-solutions"
RUNS = [TRAIN, EVAL, APPS]
GENERATE_BAR = re.compile(r"generate:\s+\d+%\|[^|\r\n]*\|\s*(\d+)/(\d+)")


def _start(out: Path, env: dict, log: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "repro", "reproduce", "-m", "manifests/smoke.yaml", "--only", ",".join(RUNS),
           "--out", str(out), "--sandbox", "bubblewrap", *extra]
    with open(log, "w") as fh:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)


def _wait_for(proc, log: Path, ready, what: str, timeout: float = 900):
    """Poll (50 ms) until `ready()` gives something true; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ready()
        if found:
            return found
        assert proc.poll() is None, f"ended (exit {proc.returncode}) before {what}:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout} s:\n{log.read_text()[-3000:]}")


def _descendants(pid: int) -> dict[int, str]:
    """pid -> start time of every process below `pid` (from /proc)."""
    found, todo = {}, [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                for child in open(f"/proc/{p}/task/{task}/children").read().split():
                    start = open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[19]
                    found[int(child)] = start
                    todo.append(int(child))
        except OSError:
            continue
    return found


def _still_running(processes: dict[int, str]) -> list[str]:
    alive = []
    for pid, start in processes.items():
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[19] == start and fields[0] != "Z":
            alive.append(f"{pid}: {open(f'/proc/{pid}/cmdline').read().replace(chr(0), ' ')[:200]}")
    return alive


def _kill(proc, log: Path) -> dict[int, str]:
    """SIGKILL `reproduce` (not its children); return the children it had."""
    children = _descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL, log.read_text()[-3000:]
    return children


def _assert_no_orphans(children: dict[int, str]) -> None:
    deadline = time.monotonic() + 20   # bwrap --die-with-parent: the kernel kills them at once
    while _still_running(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _still_running(children), f"outlived their killed owner: {_still_running(children)}"


def test_sigkill_at_four_points_then_resume_is_byte_identical(tmp_path):
    out, temp = tmp_path / "out", tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONHASHSEED": "0", "PYTHONPATH": str(REPO),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("REPRO_TEST_KILL_AT", None)   # the hook fires only where this test sets it
    partial = out / f".{TRAIN}.partial"
    t0 = time.monotonic()

    # 1. During training, once a checkpoint is completely written.
    log = tmp_path / "1-train.log"
    proc = _start(out, env, log, "-q")
    _wait_for(proc, log, lambda: list(partial.glob("checkpoints/checkpoint-*/repro_loss_sum.json")),
              "a complete checkpoint")
    _assert_no_orphans(_kill(proc, log))
    assert list(partial.glob("checkpoints/checkpoint-*")), "the checkpoints outlive the kill"

    # 2. While saving the weights (the test hook); training resumed from the checkpoint.
    log = tmp_path / "2-save.log"
    proc = _start(out, {**env, "REPRO_TEST_KILL_AT": "saving-weights"}, log, "-q")
    assert proc.wait(timeout=900) == -signal.SIGKILL, log.read_text()[-3000:]
    assert "resuming training from checkpoint-" in log.read_text()
    assert (partial / "weights").is_dir() and not (out / TRAIN).exists()

    # 3. During generation: at least one batch done, not all (progress bars on).
    log = tmp_path / "3-generate.log"
    proc = _start(out, env, log)

    def generating():
        bars = [tuple(map(int, m)) for m in GENERATE_BAR.findall(log.read_text(errors="replace"))]
        return bars and 0 < bars[-1][0] < bars[-1][1] and (out / f".{EVAL}.partial").is_dir()

    _wait_for(proc, log, generating, "generation half-way")
    assert "resuming training from checkpoint-100" in log.read_text(), "killed after training: not trained again"
    _assert_no_orphans(_kill(proc, log))
    assert (out / TRAIN).is_dir() and not (out / EVAL).exists()

    # 4. During APPS execution: the sandbox's workers are running under `reproduce`.
    log = tmp_path / "4-apps.log"
    proc = _start(out, env, log, "-q")

    def sandbox_running():   # a worker started by bwrap (python3 running /opt/sandbox/worker.py)
        kids = _descendants(proc.pid)
        lines = []
        for p in kids:
            try:
                lines.append(open(f"/proc/{p}/cmdline").read().split("\0"))
            except OSError:
                continue
        return kids if any(line[0] == "/usr/bin/python3" and "/opt/sandbox/worker.py" in line for line in lines) \
            else None

    _wait_for(proc, log, sandbox_running, "the APPS sandbox running")
    _assert_no_orphans(_kill(proc, log))
    assert (out / EVAL).is_dir() and not (out / APPS).exists()
    assert [p.name for p in temp.iterdir() if p.name.startswith("repro-sandbox-")], \
        "a killed sandbox leaves its scratch folders (the next start removes them)"

    # 5. Two resumes at once on the same directory: they coordinate through the run locks.
    logs = [tmp_path / "5a.log", tmp_path / "5b.log"]
    procs = [_start(out, env, lg, "-q", "--expect-checksums", str(SUMS)) for lg in logs]
    for p, lg in zip(procs, logs):
        assert p.wait(timeout=900) == 0, lg.read_text()[-3000:]
        assert "Outputs match" in lg.read_text() and "verdict: all checks pass" in lg.read_text()
    assert "scratch space of a process that is gone" in logs[0].read_text() + logs[1].read_text()
    print(f"four kills and two concurrent resumes: {time.monotonic() - t0:.0f} s")

    assert check_expected(out, RUNS, SUMS) == []
    assert records.verify_tree(out) == []
    assert sorted(p.name for p in out.iterdir()) == sorted(RUNS + [f".{r}.lock" for r in RUNS])
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name == "checkpoints"]
    assert not [p.name for p in temp.iterdir() if p.name.startswith("repro-")]


# --- leftovers ---------------------------------------------------------------------------------

def _dead_tag() -> str:
    """The owner tag of a process that has ended."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return scratch.owner_tag(int(done.stdout)).replace("t0h", "t1h")


MANIFEST = textwrap.dedent("""\
    manifest_version: 1
    study: t
    defaults: {model: tiny-llama, dataset: conala-bundled, rq: RQ1, limit: 3, metrics: [em],
               generation: {strategy: reference, num_return_sequences: 1}}
    runs:
      - id: plain
      - id: other
    """)


def test_leftovers_of_dead_processes_are_swept_and_live_ones_kept(tmp_path, monkeypatch):
    from filelock import FileLock

    from repro import paths

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    m = tmp_path / "m.yaml"
    m.write_text(MANIFEST)
    manifest = load_manifest(m)
    out = tmp_path / "out"
    out.mkdir()
    dead, live = _dead_tag(), scratch.owner_tag()
    dead_sandbox = tmp_path / "tmp" / f"repro-sandbox-worker-{dead}-abc_12"
    live_sandbox = scratch.temp_dir("sandbox-worker")
    foreign = tmp_path / "tmp" / "repro-something-else"           # no owner tag: not ours to judge
    for d in (dead_sandbox, foreign):
        d.mkdir()
    paths.make_dir(out, out / ".plain.partial", {"run_id": "plain"})
    paths.make_dir(out, out / ".other.partial", {"run_id": "other"})
    (out / ".not-ours.partial").mkdir()                              # no marker: never deleted
    dead_tmp = out / f".metrics.json.{dead}.x1y2z3.tmp"
    live_tmp = out / f".metrics.json.{live}.x1y2z3.tmp"
    for f in (dead_tmp, live_tmp):
        f.write_text("{")
    held = FileLock(str(out / ".other.lock"))
    held.acquire()   # a live process works on `other`
    try:
        said = sweep_leftovers(out, manifest)
    finally:
        held.release()
    assert not (out / ".plain.partial").exists() and (out / ".other.partial").is_dir()
    assert (out / ".not-ours.partial").is_dir()
    assert not dead_tmp.exists() and live_tmp.exists()
    assert not dead_sandbox.exists() and live_sandbox.is_dir() and foreign.is_dir()
    assert len(said) == 3 and all("gone" in line for line in said)


def test_half_built_tiny_models_of_dead_builders_are_swept(tmp_path, monkeypatch):
    from repro import tiny_models

    monkeypatch.setenv("REPRO_ARTIFACTS", str(tmp_path))
    models = tmp_path / "models"
    models.mkdir()
    dead_build = models / f".tiny-llama.{_dead_tag()}.abc123.tmp"
    live_build = models / f".tiny-codegen.{scratch.owner_tag()}.abc123.tmp"
    for d in (dead_build, live_build):
        d.mkdir()
        (d / "model.safetensors").write_bytes(b"half")

    def fake_build(key, out_dir, **_):     # the real build pre-trains for minutes; its naming is what counts
        prefix, suffix = scratch.hidden_name(Path(out_dir).name)
        assert scratch.HIDDEN_NAME.fullmatch(prefix + "x" + suffix)
        Path(out_dir).mkdir(parents=True)
        (Path(out_dir) / "config.json").write_text("{}")

    monkeypatch.setattr(tiny_models, "build_tiny", fake_build)
    monkeypatch.setattr("repro.pins.check_files", lambda *a, **k: None)
    tiny_models.ensure_tiny("tiny-llama", progress=False)
    assert not dead_build.exists() and live_build.is_dir()


def test_arch_check_leaves_no_scratch(tmp_path, monkeypatch):
    from repro.arch import check_manifest

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    seen = []
    real = scratch.temp_dir
    monkeypatch.setattr(scratch, "temp_dir", lambda kind, parent=None: seen.append(real(kind, parent)) or seen[-1])
    m = tmp_path / "m.yaml"
    m.write_text(MANIFEST)
    check_manifest(load_manifest(m))
    assert len(seen) == 1 and scratch.TEMP_NAME.fullmatch(seen[0].name)   # swept by name if killed
    assert not list(tmp_path.glob("repro-*"))


def test_a_file_dropped_into_a_finished_run_is_set_aside_once(tmp_path, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(MANIFEST)
    out = tmp_path / "out"
    args = ["reproduce", "-m", str(m), "--out", str(out), "-q", "--only", "plain"]
    assert main(args) == 0
    expected = {"plain/metrics.json": records.sha256_file(out / "plain" / "metrics.json"),
                "plain/predictions.jsonl": records.sha256_file(out / "plain" / "predictions.jsonl")}
    sums = tmp_path / "expected.sha256"
    sums.write_text(records.format_sums(expected))
    (out / "plain" / "notes").mkdir()
    (out / "plain" / "notes" / "mine.txt").write_text("my notes")
    assert main(["verify", str(out)]) == 1
    assert "not listed" in capsys.readouterr().out

    assert main(args + ["--expect-checksums", str(sums)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("is not part of the run plain") == 1 and "notes/mine.txt" in printed
    assert "verdict: all checks pass" in printed
    assert (out / ".unlisted" / "plain" / "notes" / "mine.txt").read_text() == "my notes"
    assert not (out / "plain" / "notes").exists()
    assert main(["verify", str(out)]) == 0
    assert main(args + ["--expect-checksums", str(sums)]) == 0
    assert "not part of the run" not in capsys.readouterr().out       # said once, not every time


def test_the_verdict_line_agrees_with_the_exit_code(tmp_path, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(MANIFEST)
    out = tmp_path / "out"
    sums = tmp_path / "expected.sha256"
    sums.write_text(records.format_sums({"plain/metrics.json": "0" * 64}))
    assert main(["reproduce", "-m", str(m), "--out", str(out), "-q", "--only", "plain",
                 "--expect-checksums", str(sums)]) == 1
    printed = capsys.readouterr().out
    assert "all checks pass" not in printed
    assert re.search(r"verdict: SOME CHECKS FAIL \(1\); 2 output file\(s\) differ from", printed), printed
    assert json.loads((out / "plain" / "metrics.json").read_text())

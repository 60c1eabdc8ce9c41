"""A result is never stale: retraining a train run makes its evaluations rerun, editing a
stage module makes that kind of run stale, `--keep-stale` keeps and reports them; and
nothing a manifest or a stray directory says makes the package touch a path outside --out.

The evaluations here use `generation: reference` (the dataset's own code, no model), so the
whole `reproduce` path runs in seconds.
"""
import json
import shutil
import textwrap
from pathlib import Path

import pytest

from repro import freshness, paths, records
from repro.cli import main
from repro.errors import UserError
from repro.manifest import Run, load_manifest
from repro.pipeline import _inputs, run_one

MANIFEST = textwrap.dedent("""\
    manifest_version: 1
    study: t
    defaults: {model: tiny-llama, dataset: conala-bundled, rq: RQ1, limit: 3, metrics: [em],
               generation: {strategy: reference, num_return_sequences: 1}}
    runs:
      - id: t
        kind: train
        tuning: {method: lora}
      - id: e
        tuning: {method: lora}
        adapter_from: t
      - id: plain
    """)


def fake_train_run(out: Path, run: Run, weights: bytes) -> None:
    """A finished train run directory as the package writes it (without training a model)."""
    d = out / run.id
    if d.exists():
        shutil.rmtree(d)
    paths.make_dir(out, d)
    records.write_atomic(d / "weights" / "adapter_model.safetensors", weights)
    pinned = _inputs(run)
    records.write_json(d / "run.json", {"run_id": run.id, "config_hash": run.config_hash(), "inputs": pinned,
                                        "freshness": freshness.identity(run, out, pinned)})
    records.write_sums(d)


@pytest.fixture
def setup(tmp_path):
    m = tmp_path / "m.yaml"
    m.write_text(MANIFEST)
    out = tmp_path / "out"
    out.mkdir()
    fake_train_run(out, load_manifest(m).get("t"), b"weights one")
    return m, out


def reproduce(m, out, *extra):
    return main(["reproduce", "-m", str(m), "--out", str(out), "-q", *extra])


def test_retraining_makes_its_evaluations_stale(setup, capsys):
    m, out = setup
    assert reproduce(m, out) == 0
    assert "(1 already complete and verified, 2 to do)" in capsys.readouterr().out
    assert reproduce(m, out) == 0
    assert "0 to do" in capsys.readouterr().out
    fake_train_run(out, load_manifest(m).get("t"), b"weights two")   # the train run was re-run
    assert reproduce(m, out) == 0
    text = capsys.readouterr().out
    assert "redo e: stale: its train run was re-run" in text and "1 to do" in text
    assert "redo plain" not in text


def test_code_change_makes_runs_stale_and_keep_stale_reports_them(setup, capsys, monkeypatch):
    m, out = setup
    assert reproduce(m, out) == 0
    capsys.readouterr()
    real = freshness.code_fingerprint
    monkeypatch.setattr(freshness, "code_fingerprint",
                        lambda kind, *a: real(kind, *a) + ("-edited" if kind == "evaluate" else ""))
    assert reproduce(m, out, "--keep-stale") == 0
    text = capsys.readouterr().out
    assert "keeping e although stale: the evaluate code changed" in text
    assert "stale results kept (--keep-stale)" in text and "0 to do" in text
    assert reproduce(m, out) == 0
    text = capsys.readouterr().out
    assert "redo e: stale" in text and "redo plain: stale" in text and "2 to do" in text
    assert reproduce(m, out) == 0
    assert "0 to do" in capsys.readouterr().out


def test_editing_a_scorer_changes_the_evaluation_fingerprint_only(tmp_path):
    copy = tmp_path / "repro"
    shutil.copytree(freshness.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = {k: freshness.code_fingerprint(k, copy) for k in ("train", "evaluate")}
    scorer = copy / "metrics" / "exact_match.py"
    scorer.write_text(scorer.read_text() + "\n# an edit\n")
    freshness.code_fingerprint.cache_clear()
    after = {k: freshness.code_fingerprint(k, copy) for k in ("train", "evaluate")}
    assert after["train"] == before["train"] and after["evaluate"] != before["evaluate"]
    train_module = copy / "train.py"
    train_module.write_text(train_module.read_text() + "\n# an edit\n")
    freshness.code_fingerprint.cache_clear()
    assert freshness.code_fingerprint("train", copy) != before["train"]


def test_unexpected_file_in_a_finished_run_is_noted_not_fatal(setup, capsys):
    m, out = setup
    assert reproduce(m, out) == 0
    (out / "plain" / "notes.txt").write_text("mine")
    assert reproduce(m, out) == 0
    text = capsys.readouterr().out
    assert "plain/notes.txt is not part of the run plain" in text   # set aside: tests/test_crash.py
    assert (out / ".unlisted" / "plain" / "notes.txt").read_text() == "mine"


# --- containment ------------------------------------------------------------------------

def test_matrix_traversal_changes_nothing_outside_out(tmp_path, capsys):
    victim = tmp_path / "somewhere"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    out = tmp_path / "a" / "b" / "out"
    m = tmp_path / "m.yaml"
    m.write_text(MANIFEST.replace("  - id: plain\n", "  - id: x{notes}\n    matrix: {notes: [/../../somewhere]}\n"))
    assert main(["reproduce", "-m", str(m), "--out", str(out), "-q"]) == 2
    assert "field 'id'" in capsys.readouterr().err
    assert (victim / "precious.txt").read_text() == "keep me" and sorted(victim.iterdir()) == [victim / "precious.txt"]
    assert not out.exists()


def test_a_run_id_that_bypasses_the_loader_cannot_escape(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "f").write_text("x")
    out = tmp_path / "out"
    out.mkdir()
    m = tmp_path / "m.yaml"
    m.write_text(MANIFEST)
    manifest = load_manifest(m)
    run = manifest.get("plain")
    evil = Run(id="../victim", config=dict(run.config, id="../victim"), source=run.source)
    with pytest.raises(UserError, match="outside the output directory"):
        run_one(evil, manifest, out, progress=False)
    assert (victim / "f").read_text() == "x" and sorted(p.name for p in victim.iterdir()) == ["f"]


def test_only_directories_the_package_made_are_deleted(tmp_path, capsys):
    out = tmp_path / "out"
    mine = out / "plain"
    mine.mkdir(parents=True)
    (mine / "thesis.tex").write_text("years of work")
    m = tmp_path / "m.yaml"
    m.write_text(MANIFEST)
    assert main(["reproduce", "-m", str(m), "--out", str(out), "-q", "--only", "plain"]) == 2
    assert "was not made by repro" in capsys.readouterr().err
    assert (mine / "thesis.tex").read_text() == "years of work"
    outside = tmp_path / "outside"
    outside.mkdir()
    paths.make_dir(tmp_path, outside / "marked")
    link = out / "link"
    link.symlink_to(outside / "marked")
    with pytest.raises(UserError):
        paths.remove_made_dir(out, link)           # a link out of the root is never followed
    assert (outside / "marked").is_dir()
    paths.make_dir(out, out / "made")
    paths.remove_made_dir(out, out / "made")
    assert not (out / "made").exists()


def test_partial_directory_of_a_finished_evaluation_is_gone(setup):
    m, out = setup
    assert reproduce(m, out) == 0
    leftovers = [p.name for p in out.iterdir() if p.name.endswith(".partial")]
    assert leftovers == []
    assert json.loads((out / "e" / "run.json").read_text())["freshness"]["inputs"]["t/SHA256SUMS"]


def test_a_second_process_waits_for_the_run_another_holds(setup, tmp_path):
    """Two `reproduce` on one directory: the second waits on the run's lock, then goes on."""
    import subprocess
    import sys
    import time

    from filelock import FileLock

    m, out = setup
    lock = FileLock(str(out / ".plain.lock"))
    lock.acquire()
    log = tmp_path / "second.log"
    repo = Path(__file__).resolve().parent.parent
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "repro", "reproduce", "-m", str(m), "--out", str(out), "-q",
                                 "--only", "plain"], cwd=repo, stdout=fh, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None and "waiting:" not in log.read_text():
            time.sleep(0.5)
        time.sleep(2)
        assert proc.poll() is None, "the second process must wait, not fail or overwrite: " + log.read_text()
        assert "waiting: another process is working on plain" in log.read_text()
        assert not (out / "plain").exists() and not (out / ".plain.partial").exists()
    finally:
        lock.release()
    proc.wait(timeout=180)
    assert proc.returncode == 0, log.read_text()
    assert (out / "plain" / "metrics.json").exists()
    assert not any(p.name.endswith(".partial") for p in out.iterdir())

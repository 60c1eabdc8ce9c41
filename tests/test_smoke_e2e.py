"""The end-to-end smoke path: `reproduce` on manifests/smoke.yaml matches the committed
checksums, its claims hold, a second run does no work, and verify catches tampering.

The smoke run writes to results/smoke (the same place as `make smoke`), so a run that is
already complete, verified and fresh there (same configuration, same stage code, same
package-made inputs: repro/freshness.py) is reused rather than recomputed; a run made by an
earlier checkout's code is redone, never trusted.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repro.cli import main
from repro.verdicts import evaluate
from repro.manifest import load_manifest

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "manifests" / "smoke.yaml"
SUMS = REPO / "checksums" / "smoke.sha256"
RESULTS = REPO / "results" / "smoke"


@pytest.fixture(scope="module")
def smoke(request):
    # The command a user runs, in its own interpreter: `python -m repro` fixes PYTHONHASHSEED
    # (repro/__main__.py), which the pinned outputs depend on, whatever the test process has.
    return subprocess.run([sys.executable, "-m", "repro", "reproduce", "--manifest", str(MANIFEST),
                           "--out", str(RESULTS), "-q", "--expect-checksums", str(SUMS)], cwd=REPO).returncode


def test_smoke_reproduces_and_matches_checksums(smoke):
    assert smoke == 0


def test_smoke_claims_hold(smoke):
    verdicts = evaluate(load_manifest(MANIFEST), RESULTS)
    assert verdicts.claims and all(c["verdict"].startswith("holds") for c in verdicts.claims), verdicts.claims
    assert verdicts.exit_code == 0, verdicts.failures


def test_lora_beats_zero_shot(smoke):
    lora = json.loads((RESULTS / "llama-lora" / "metrics.json").read_text())
    zero = json.loads((RESULTS / "llama-zero-shot" / "metrics.json").read_text())
    assert lora["em@10"] > zero["em@10"]


def test_second_reproduce_does_no_work(smoke, capsys):
    before = {p: p.stat().st_mtime_ns for p in RESULTS.rglob("run.json")}
    assert main(["reproduce", "--manifest", str(MANIFEST), "--out", str(RESULTS), "-q"]) == 0
    out = capsys.readouterr().out
    assert "0 to do" in out
    assert {p: p.stat().st_mtime_ns for p in RESULTS.rglob("run.json")} == before


def test_verify_names_a_tampered_file(smoke, tmp_path, capsys):
    copy = tmp_path / "smoke"
    shutil.copytree(RESULTS, copy)
    assert main(["verify", str(copy), "--against", str(SUMS)]) == 0
    target = copy / "llama-lora" / "predictions.jsonl"
    data = bytearray(target.read_bytes())
    data[10] ^= 1
    target.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["verify", str(copy), "--against", str(SUMS)]) == 1
    out = capsys.readouterr().out
    assert "llama-lora/predictions.jsonl" in out


def test_smoke_outputs_are_fresh(smoke):
    """Reused outputs must have been made by this checkout's code from the current inputs:
    `reproduce` redoes stale runs, so none may remain (results of an earlier checkout fail)."""
    from repro.pipeline import why_redo

    for run in load_manifest(MANIFEST).runs:
        assert why_redo(run, RESULTS / run.id) == (None, False), run.id

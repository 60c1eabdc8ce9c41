"""Determinism that is easy to lose: a train run gives the same weights whether or not its
tiny base had to be built first in the same process (building trains, and moves the RNG), and
`python -m repro` runs under one hash seed."""
from pathlib import Path

from repro import pins, tiny_models
from repro.cli import main
from repro.records import sha256_file



def test_adapter_does_not_depend_on_building_the_base_first(tmp_path, monkeypatch, lora_train_manifest):
    monkeypatch.setattr(tiny_models, "PRETRAIN_STEPS", 5)              # a quick base, for this test only
    monkeypatch.setattr(pins, "CHECKSUMS_DIR", tmp_path / "no-pins")   # ...which the pins do not know
    monkeypatch.setenv("REPRO_ARTIFACTS", str(tmp_path / "artifacts"))
    manifest = lora_train_manifest
    weights = []
    for out in ("first", "second"):  # first: the base is built in this process; second: it exists
        assert main(["run", "lora-train", "--manifest", str(manifest), "--out", str(tmp_path / out), "-q"]) == 0
        weights.append(sha256_file(tmp_path / out / "lora-train" / "weights" / "adapter_model.safetensors"))
    assert weights[0] == weights[1]


def test_python_m_repro_runs_under_hash_seed_zero(tmp_path):
    """`python -m repro` started without PYTHONHASHSEED re-starts itself with 0 (peft writes
    target_modules in set order); a seed the user set is kept, with a warning."""
    import os
    import subprocess
    import sys

    # sitecustomize runs at every interpreter start: it shows each start's hash seed.
    (tmp_path / "sitecustomize.py").write_text(
        "import os, sys\nsys.stderr.write('seed=%s\\n' % os.environ.get('PYTHONHASHSEED'))\n")
    repo = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    env["PYTHONPATH"] = f"{tmp_path}:{repo}"
    argv = [sys.executable, "-m", "repro", "list", "-m", str(repo / "manifests" / "smoke.yaml"), "--only", "llama-zero-shot"]
    unset = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=repo)
    assert unset.returncode == 0 and unset.stderr.splitlines() == ["seed=None", "seed=0"], unset.stderr
    chosen = subprocess.run(argv, env={**env, "PYTHONHASHSEED": "7"}, capture_output=True, text=True, cwd=repo)
    assert chosen.returncode == 0 and chosen.stderr.startswith("seed=7\nwarning: PYTHONHASHSEED=7"), chosen.stderr

"""Data-parallel training with two CPU processes (gloo): both ranks train, rank 0 alone writes
the run. Launched with torch.distributed.run, the launcher `accelerate launch` itself uses for
multi-GPU (its multi-CPU mode needs MPI); Trainer sets up the process group through accelerate."""
import json
import os
import subprocess
import sys
from pathlib import Path

from repro.records import verify_tree

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_training_writes_one_verified_run(tmp_path, lora_train_manifest):
    manifest = lora_train_manifest
    out = tmp_path / "results"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1",
               REPRO_ARTIFACTS=os.environ.get("REPRO_ARTIFACTS", str(REPO / "artifacts")))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           "-m", "repro", "run", "lora-train", "--manifest", str(manifest), "--out", str(out), "-q"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # the run, and beside it only its lock file (no partial directory, no rank's leftovers)
    assert sorted(p.name for p in out.iterdir()) == [".lora-train.lock", "lora-train"]
    assert verify_tree(out) == []
    meta = json.loads((out / "lora-train" / "run.json").read_text())
    assert meta["world_size"] == 2

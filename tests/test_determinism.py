"""Determinism that is easy to lose: a train run gives the same weights whether or not its
tiny base had to be built first in the same process (building trains, and moves the RNG)."""
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

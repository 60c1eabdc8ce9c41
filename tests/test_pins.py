"""Pinned inputs: bundled data and tiny models are checked against checksums/ before use."""
import shutil

import pytest

from repro import pins
from repro.data import load_split
from repro.errors import UserError


def test_bundled_data_matches_its_pins():
    assert pins.pinned("data.sha256"), "checksums/data.sha256 must pin the bundled data"
    for key in ("conala-bundled", "codealpacapy-bundled", "apps-bundled"):
        assert load_split(key, "test")


def test_a_changed_data_file_is_refused(tmp_path, monkeypatch):
    root = tmp_path / "conala"
    shutil.copytree(pins.CHECKSUMS_DIR.parent / "repro" / "bundled" / "conala", root)
    pins.check_files(root, "conala", "data.sha256", "bundled data")  # unchanged: fine
    with open(root / "test.jsonl", "a") as fh:
        fh.write("\n")
    with pytest.raises(UserError) as e:
        pins.check_files(root, "conala", "data.sha256", "bundled data", fix="restore it")
    assert "conala/test.jsonl" in e.value.render() and "data.sha256" in e.value.render()


def test_input_pins_for_run_json():
    p = pins.input_pins("tiny-llama", "conala-bundled")
    assert p["model"]["files"]["model.safetensors"] and p["dataset"]["files"]["test.jsonl"]
    hub = pins.input_pins("codellama-7b", "conala")
    assert hub["model"]["hub_id"] == "codellama/CodeLlama-7b-hf"


def test_the_smoke_runs_tiny_models_build_offline_to_their_pins():
    """Each tiny model the smoke run uses is built when missing, exactly as the CLI builds it (one
    thread, deterministic algorithms), and every one of its files matches checksums/models.sha256
    (`ensure_tiny` refuses a mismatch). `make test` hands this file out second, so on a fresh
    checkout the T5 build runs on the other worker beside the smoke run's Llama build."""
    import torch

    from repro.tiny_models import ensure_tiny

    pinned = pins.pinned("models.sha256")
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        for key in ("tiny-t5", "tiny-llama"):
            assert any(name.startswith(f"{key}/") for name in pinned), f"{key} has no pins"
            path = ensure_tiny(key, progress=False)
            assert (path / "model.safetensors").is_file()
    finally:
        torch.use_deterministic_algorithms(was)

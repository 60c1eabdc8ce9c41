"""The GPU path's device logic, checked on the CPU with stand-ins: where a reloaded model lives,
what it is loaded with, which retriever revision loads, and one answer for device and rank."""
import json

import pytest
import torch

from repro import device, pipeline, retrieval, train
from repro.modeling import load_model, load_tokenizer
from repro.registry import MODELS
from repro.tiny_models import build_tiny
from repro.tuning import get


@pytest.fixture(scope="module")
def saved_full_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("full")
    path = build_tiny("tiny-llama", root / "tiny-llama", steps=1, progress=False)
    spec = MODELS["tiny-llama"]
    model = load_model(spec, str(path))
    get("full-ft").save(model, load_tokenizer(spec, str(path)), root / "weights")
    return spec, path, root / "weights"


def test_full_fine_tuning_reloads_onto_the_bases_device(saved_full_model):
    """The base on another device (the meta device stands in for a GPU): the tuned model follows it.
    Before the fix it stayed on the CPU while the base sat on the GPU."""
    spec, path, weights = saved_full_model
    base = load_model(spec, str(path)).to("meta")
    tuned = get("full-ft").load_trained(base, weights, spec)
    assert {p.device.type for p in tuned.parameters()} == {"meta"}


def test_full_fine_tuning_reload_passes_trust_remote_code(saved_full_model, monkeypatch):
    from dataclasses import replace

    import transformers

    spec, path, weights = saved_full_model
    seen = {}
    real = transformers.AutoModelForCausalLM.from_pretrained

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **{k: v for k, v in kwargs.items() if k != "trust_remote_code"})

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", spy)
    remote = replace(spec, trust_remote_code=True)  # as CodeGen2
    get("full-ft").load_trained(load_model(spec, str(path)), weights, remote)
    assert seen["trust_remote_code"] is True


def test_retriever_revision_comes_from_the_input_lock(tmp_path, monkeypatch):
    lock = tmp_path / "inputs.lock.json"
    lock.write_text(json.dumps({"lock_version": 1, "retrievers": {
        "gte-small": {"hub_id": "thenlper/gte-small", "revision": "0123abcd", "files": None}}}))
    monkeypatch.setenv("REPRO_INPUTS_LOCK", str(lock))
    assert retrieval.retriever_path("gte-small") == ("thenlper/gte-small", "0123abcd")


def test_one_helper_answers_device_and_rank(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert pipeline.process_rank() == device.rank() == 3
    assert train._world_size() == device.world_size() == 4
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.device() == torch.device("cuda:1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.device() == torch.device("cpu")

"""Precision as each version of the authors' code did it (PROTOCOL.md, "Two versions"), and the
bf16 path run for real on the CPU."""
import copy

import pytest
import torch

from repro import precision, tuning
from repro.manifest import BUILTIN_DEFAULTS
from repro.modeling import load_model, load_tokenizer
from repro.registry import MODELS
from repro.tiny_models import build_tiny
from repro.train import refuse_fp16_trainable, train

METHODS = ["full-ft", "lora", "ia3", "prompt-tuning", "prefix-tuning", "qlora-8bit", "qlora-4bit"]
ROWS = [{"prompt": f"### Instruction:\nreturn {w} plus one\n### Response:\n", "target": f"{w} + 1"}
        for w in ["a", "b", "count", "total", "n", "size", "x", "y"]]


def test_versions_of_the_authors_code_on_a_gpu():
    # PROTOCOL.md table: paper-era loads PEFT/QLoRA in fp16 and full fine-tuning in fp32, Trainer fp16=True,
    # QLoRA fp16 compute; TOSEM loads bf16 for every method, bf16=True, QLoRA bf16 compute.
    era = {m: precision.plan("paper-era", m, on_gpu=True) for m in METHODS}
    assert era["full-ft"].weights == "float32" and era["lora"].weights == "float16"
    assert {p.trainer for p in era.values()} == {"fp16"} and era["qlora-4bit"].qlora_compute == "float16"
    tosem = {m: precision.plan("tosem", m, on_gpu=True) for m in METHODS}
    assert {(p.weights, p.trainer, p.qlora_compute) for p in tosem.values()} == {("bfloat16", "bf16", "bfloat16")}


@pytest.mark.parametrize("policy", precision.POLICIES)
@pytest.mark.parametrize("on_gpu", [True, False])
def test_full_fine_tuning_never_trains_fp16_weights(policy, on_gpu):
    """Under every policy, with every registry dtype (CodeGen's checkpoints are float16)."""
    for dtype in {m.dtype for m in MODELS.values()}:
        p = precision.plan(policy, "full-ft", on_gpu, registry_dtype=dtype)
        assert not (p.trainer == "fp16" and p.weights == "float16"), (policy, dtype, p)


def test_fp16_trainable_weights_are_refused_before_any_step():
    model = torch.nn.Linear(4, 4).half()
    with pytest.raises(ValueError, match="fp16 mixed precision trains fp32 weights"):
        refuse_fp16_trainable(model)
    refuse_fp16_trainable(torch.nn.Linear(4, 4))  # fp32: fine


def test_cpu_says_plainly_when_fp16_cannot_run():
    p = precision.plan("paper-era", "lora", on_gpu=False)
    assert (p.weights, p.trainer) == ("float32", "fp32") and "needs a GPU" in p.note


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return build_tiny("tiny-llama", tmp_path_factory.mktemp("tiny") / "tiny-llama", steps=2, progress=False)


@pytest.mark.parametrize("method", ["full-ft", "lora"])
def test_tosem_bf16_trains_on_the_cpu(method, tiny_llama, tmp_path):
    """Trainer(use_cpu=True, bf16=True) on bf16 weights: the TOSEM path itself, not an fp32 substitute."""
    torch.manual_seed(0)
    spec, m = MODELS["tiny-llama"], tuning.get(method)
    plan = precision.plan("tosem", method, on_gpu=False)
    cfg = copy.deepcopy(BUILTIN_DEFAULTS["tuning"])
    cfg.update(method=method, learning_rate=1e-3, max_steps=3, epochs=1, batch_size=4, max_length=48,
               precision="tosem")
    tok = load_tokenizer(spec, str(tiny_llama))
    model = m.wrap(load_model(spec, str(tiny_llama), dtype=plan.weights), spec, cfg, tok, str(tiny_llama))
    assert next(model.parameters()).dtype == torch.bfloat16
    stats = train(model, tok, ROWS, ROWS[:4], cfg, seq2seq=False, seed=0, on_gpu=False, progress=False,
                  scratch_dir=str(tmp_path))
    assert stats["global_steps"] == 3 and stats["best_eval_loss"] is not None
    assert stats["precision"].startswith("bf16 weights and bf16 autocast on the CPU")


@pytest.mark.parametrize("policy, kept", [("paper-era", torch.float16), ("tosem", torch.float32)])
def test_quantized_base_loads_in_the_run_dtype_and_upcasts_as_its_code_did(policy, kept, tiny_llama):
    """The weight dtype reaches a quantized load (c55e532 train.py:61-62 passes `torch_dtype`
    with the quantization config); the paper-era code trained its unquantized parts as loaded,
    the revision's SFTTrainer cast them to fp32 (peft's prepare_model_for_kbit_training)."""
    spec, method = MODELS["tiny-llama"], tuning.get("qlora-8bit")
    cfg = copy.deepcopy(BUILTIN_DEFAULTS["tuning"])
    cfg.update(method="qlora-8bit", precision=policy)
    base = load_model(spec, str(tiny_llama), method.load_kwargs(cfg, False), dtype="float16")
    assert base.model.norm.weight.dtype == torch.float16
    model = method.wrap(base, spec, cfg, load_tokenizer(spec, str(tiny_llama)), str(tiny_llama))
    assert model.base_model.model.model.norm.weight.dtype == kept

"""Every tuning method on every tiny architecture family: trains (loss goes down), saves,
reloads to the same outputs, and batched beam search equals one prompt at a time.

The tiny bases here get only a few pre-training steps (mechanics, not quality) and live
in a temporary artifacts directory.
"""
import copy

import pytest
import torch

from repro import tuning
from repro.generate import generate
from repro.manifest import BUILTIN_DEFAULTS, PAPER_LEARNING_RATES
from repro.modeling import load_model, load_tokenizer
from repro.registry import MODELS
from repro.tiny_models import build_tiny
from repro.train import train

METHODS = ["full-ft", "lora", "ia3", "prompt-tuning", "prefix-tuning", "qlora-8bit", "qlora-4bit"]
FAMILIES = ["tiny-llama", "tiny-t5", "tiny-codegen"]
PROMPTS = ["### Instruction:\nsort list `a`\n### Response:\n",
           "### Instruction:\nsort list `b`\n### Response:\n",   # same length: prompt tuning batches these
           "### Instruction:\nget the keys of dictionary `inventory` quickly\n### Response:\n",
           "### Instruction:\nx\n### Response:\n",
           "### Instruction:\nconvert string `s` to integer\n### Response:\n"]
ROWS = [{"prompt": f"### Instruction:\nreturn {w} plus one\n### Response:\n", "target": f"{w} + 1"}
        for w in ["a", "b", "count", "total", "n", "size", "x", "y", "value", "k", "m", "z"]]
GEN = {"strategy": "beam", "num_beams": 4, "num_return_sequences": 3, "max_new_tokens": 8, "stop": ["\n"]}


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {key: build_tiny(key, root / key, steps=10, progress=False) for key in FAMILIES}


def tuning_cfg(method):
    cfg = copy.deepcopy(BUILTIN_DEFAULTS["tuning"])
    cfg.update(method=method, learning_rate=PAPER_LEARNING_RATES[method] * 30, max_steps=12, epochs=1,
               batch_size=4, max_length=64, precision="auto")
    cfg["quantization"]["bits"] = 8 if method == "qlora-8bit" else 4
    return cfg


def trained(key, method, path, tmp_path):
    spec, m = MODELS[key], tuning.get(method)
    tok = load_tokenizer(spec, str(path))
    cfg = tuning_cfg(method)
    model = m.wrap(load_model(spec, str(path), m.load_kwargs(cfg, False)), spec, cfg, tok, str(path))
    stats = train(model, tok, ROWS, ROWS[:4], cfg, seq2seq=spec.is_seq2seq, seed=0, on_gpu=False,
                  progress=False, scratch_dir=str(tmp_path))
    return spec, m, tok, model, stats


@pytest.mark.parametrize("key", FAMILIES)
@pytest.mark.parametrize("method", METHODS)
def test_method_trains_saves_reloads_and_batches(key, method, tiny_dirs, tmp_path):
    torch.manual_seed(0)
    path = tiny_dirs[key]
    spec, m, tok, model, stats = trained(key, method, path, tmp_path)
    curve = stats["train_loss_curve"]
    assert stats["best_eval_loss"] < stats["initial_eval_loss"], stats
    assert curve[-1] < curve[0], curve

    equal_len = method == "prompt-tuning"
    if equal_len:
        lengths = [len(tok(p)["input_ids"]) for p in PROMPTS]
        assert len(set(lengths)) < len(lengths), "the test needs a real equal-length batch"
    batched = generate(model, tok, PROMPTS, GEN, seq2seq=spec.is_seq2seq, seed=0, batch_size=5,
                       equal_length_batches=equal_len, progress=False)
    single = generate(model, tok, PROMPTS, GEN, seq2seq=spec.is_seq2seq, seed=0, batch_size=1, progress=False)
    assert batched == single

    m.save(model, tok, tmp_path / "weights")
    base = load_model(spec, str(path), m.load_kwargs(tuning_cfg(method), False))
    reloaded = m.load_trained(base, tmp_path / "weights", spec)
    again = generate(reloaded, tok, PROMPTS, GEN, seq2seq=spec.is_seq2seq, seed=0, batch_size=1, progress=False)
    assert again == single


def test_qlora_4bit_loss_really_decreases(tiny_dirs, tmp_path):
    """The avx512-bf16 repacking pitfall freezes the loss silently; the loss must move."""
    _, _, _, model, stats = trained("tiny-llama", "qlora-4bit", tiny_dirs["tiny-llama"], tmp_path)
    import bitsandbytes as bnb

    layers = [mod for mod in model.modules() if isinstance(mod, bnb.nn.Linear4bit)]
    assert layers and all(mod.support_avx512bf16_for_cpu is False for mod in layers)
    curve = stats["train_loss_curve"]
    assert min(curve[1:]) < curve[0] - 0.05, curve


def test_trainable_parameters_are_what_peft_reports(tiny_dirs):
    spec = MODELS["tiny-llama"]
    path = str(tiny_dirs["tiny-llama"])
    tok = load_tokenizer(spec, path)
    counts = {}
    for method in ["lora", "ia3", "prompt-tuning", "prefix-tuning"]:
        m = tuning.get(method)
        model = m.wrap(load_model(spec, path), spec, tuning_cfg(method), tok, path)
        counts[method] = model.get_nb_trainable_parameters()[0]
    cfg = tuning_cfg("lora")
    # LoRA on q,k,v: 4 layers x 3 modules x r x (in + out) with hidden 128.
    assert counts["lora"] == 4 * 3 * cfg["lora"]["r"] * (128 + 128)
    assert counts["prompt-tuning"] == 20 * 128
    assert counts["ia3"] < counts["lora"]


def test_prompt_tuning_starts_from_the_instruction_line(tiny_dirs):
    from repro.tasks.nl2code.prompts import SYSTEM_LINE

    spec = MODELS["tiny-llama"]
    path = str(tiny_dirs["tiny-llama"])
    tok = load_tokenizer(spec, path)
    model = tuning.get("prompt-tuning").wrap(load_model(spec, path), spec, tuning_cfg("prompt-tuning"), tok, path)
    cfg = model.peft_config["default"]
    assert cfg.prompt_tuning_init_text == SYSTEM_LINE and cfg.num_virtual_tokens == 20

"""Real shapes on the CPU: every tuning method on each paper architecture at full width.

`shape_base(key, layers, directory)` writes a random-weight model of the registry's published
architecture (full width and vocabulary; `layers` deep, or full depth when None) and a small
byte-level tokenizer; `shape_check(...)` then runs what a run does, through the package's own
code: load (quantized for QLoRA), wrap, a few Trainer steps, save, reload, compare the
reloaded model's logits with the trained one's, and a short beam search. Memory and time do not
depend on weight values, and neither do module names, target modules or adapter shapes.
"""
from __future__ import annotations

import gc
import time
from dataclasses import replace
from pathlib import Path

from repro.registry import MODELS

PROMPTS = ["# sort list a\n", "# x\n"]
ROWS = [{"prompt": f"# {w} plus one\n", "target": f"{w} + 1"}
        for w in ("a", "b", "count", "n")]
GEN = {"strategy": "beam", "num_beams": 2, "num_return_sequences": 2, "max_new_tokens": 3, "stop": [], "batch_size": 2}


def shape_base(key: str, layers: int | None, directory: Path, dtype: str = "bfloat16", build_device: str = "cpu") -> Path:
    """A random-weight model of `key`'s architecture and a small tokenizer, saved in `directory`
    (built on `build_device`: "cuda" builds a 7B model in seconds, in `dtype`, without host RAM for fp32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM
    from transformers.initialization import no_init_weights

    from repro.arch import hf_config
    from repro.tiny_models import build_tokenizer, corpus_lines

    tokenizer = build_tokenizer(corpus_lines())
    config = hf_config(key, layers)
    ids = dict(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
               eos_token_id=tokenizer.eos_token_id)
    for name, value in ids.items():
        setattr(config, name, value)
    if MODELS[key].is_seq2seq:
        config.decoder_start_token_id = tokenizer.pad_token_id
    auto = AutoModelForSeq2SeqLM if MODELS[key].is_seq2seq else AutoModelForCausalLM
    # transformers' own initialisation runs per module (and in bf16, which this kind of CPU
    # emulates slowly): minutes for a 34B-wide layer. Values do not matter for shapes, so the
    # model is built without it and every weight filled in one call (buffers such as rotary
    # frequencies are still computed by the model's constructor).
    build_dtype = torch.float32 if build_device == "cpu" else getattr(torch, dtype)
    with torch.device(build_device), no_init_weights():
        model = auto.from_config(config, dtype=build_dtype)
    model.tie_weights()   # skipped with the initialisation; tied embeddings are part of the shape
    generator = torch.Generator(device=build_device).manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() >= 2:
                param.normal_(0.0, 0.02, generator=generator)
            elif name.endswith("bias"):
                param.zero_()
            else:  # layer-norm scales
                param.fill_(1.0)
    model.to(getattr(torch, dtype)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    del model
    return Path(directory)


def shape_check(key: str, method_name: str, base_dir: Path, work_dir: Path, precision: str = "auto",
                steps: int = 2, on_gpu: bool | None = None) -> dict:
    """Train `steps` steps, save, reload and beam-search `key` (a saved shape base) with `method_name`,
    on the GPU when `on_gpu` (default: when this process has one, as `repro.device` decides)."""
    import copy

    import torch

    from repro import device, tuning
    from repro.generate import generate
    from repro.manifest import BUILTIN_DEFAULTS, PAPER_LEARNING_RATES
    from repro.modeling import load_model, load_tokenizer
    from repro.precision import plan
    from repro.train import train
    from transformers import set_seed

    spec = replace(MODELS[key], tiny=True, trust_remote_code=False)  # a local directory, native class
    method = tuning.get(method_name)
    cfg = copy.deepcopy(BUILTIN_DEFAULTS["tuning"])
    cfg.update(method=method_name, learning_rate=PAPER_LEARNING_RATES[method_name], max_steps=steps, epochs=1,
               batch_size=2, max_length=16, eval_every_epoch_fraction=1.0, precision=precision, num_virtual_tokens=10 if method_name == "prefix-tuning" else 20)
    cfg["quantization"]["bits"] = 8 if method_name == "qlora-8bit" else 4
    on_gpu = device.on_gpu() if on_gpu is None else on_gpu
    p = plan(precision, method_name, on_gpu=on_gpu, registry_dtype=spec.dtype)
    path = str(base_dir)
    timings = {}
    t0 = time.perf_counter()
    # Seeded before loading, as a run is (repro/pipeline.py): the adapters' random initialisation
    # (a prefix's embeddings, LoRA's A) then does not depend on the cases run before in the process.
    set_seed(0)
    tokenizer = load_tokenizer(spec, path)
    model = method.wrap(load_model(spec, path, method.load_kwargs(cfg, on_gpu), dtype=p.weights), spec, cfg, tokenizer, path)
    trainable = sum(q.numel() for q in model.parameters() if q.requires_grad)
    trainable_tensors = sum(1 for q in model.parameters() if q.requires_grad)
    # Every trainable tensor is watched: LoRA's A gets no gradient until its zero-initialised B
    # has moved, so one tensor alone can stay put in 2 steps while training works.
    start = {n: _fingerprint(q) for n, q in model.named_parameters() if q.requires_grad}
    timings["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    stats = train(model, tokenizer, ROWS, ROWS[:2], cfg, seq2seq=spec.is_seq2seq, seed=0, on_gpu=on_gpu,
                  progress=False, scratch_dir=str(work_dir))
    timings["train"] = time.perf_counter() - t0
    now = dict(model.named_parameters())
    changed = [n for n, fp in start.items() if not torch.equal(fp, _fingerprint(now[n]))]
    updated = bool(changed)
    del start, now
    weights = Path(work_dir) / "weights"
    method.save(model, tokenizer, weights)
    probe = tokenizer(PROMPTS[:1], return_tensors="pt").to(next(model.parameters()).device)
    before = _logits(model, probe, spec.is_seq2seq)
    # Freed before the reload, or two full-width models share the memory: peft and transformers
    # models hold reference cycles, which only the collector frees.
    del model
    gc.collect()
    t0 = time.perf_counter()
    reloaded = method.load_trained(load_model(spec, path, method.load_kwargs(cfg, on_gpu), dtype=p.weights),
                                   weights, spec)
    after = _logits(reloaded, probe, spec.is_seq2seq)
    timings["reload"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    candidates = generate(reloaded, tokenizer, PROMPTS, GEN, seq2seq=spec.is_seq2seq, seed=0, progress=False,
                          equal_length_batches=method_name == "prompt-tuning")
    timings["generate"] = time.perf_counter() - t0
    return {"model": key, "method": method_name, "trainable": trainable, "steps": stats["global_steps"], "updated": updated,
            "tensors_updated": f"{len(changed)}/{trainable_tensors}",
            "train_loss": stats["train_loss"], "precision": stats["precision"],
            "reload_max_abs_diff": float((before - after).abs().max()), "candidates": candidates,
            "seconds": {k: round(v, 2) for k, v in timings.items()}, "dtype": str(next(reloaded.parameters()).dtype)}


def _fingerprint(param):
    """The first 4,096 values of a tensor, as float32 (enough to see an optimizer step)."""
    return param.detach().flatten()[:4096].float().clone()


def _logits(model, enc, seq2seq: bool):
    import torch

    with torch.no_grad():
        model.eval()
        kwargs = dict(enc)
        if seq2seq:
            kwargs["decoder_input_ids"] = torch.zeros((1, 1), dtype=torch.long, device=enc["input_ids"].device)
        return model(**kwargs).logits[:, -1, :].float()

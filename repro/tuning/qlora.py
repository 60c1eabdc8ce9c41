"""QLoRA: LoRA on a base loaded in 8-bit (LLM.int8) or 4-bit NF4 with double quantization.

bitsandbytes has a CPU backend, so both train here; on CPUs with avx512_bf16 an eval-mode
forward repacks `Linear4bit` weights into an inference layout and later training steps get
zero gradients, so `wrap` turns that repacking off on every 4-bit layer. The base loads in
the run's weight dtype (its unquantized parts keep it); `wrap` casts them to fp32 first except
under the paper-era precision, whose code did not (`upcasts_for_kbit`).
"""
from __future__ import annotations

from repro.tuning.lora import LoRA


class QLoRA(LoRA):
    def __init__(self, bits: int):
        self.bits = bits
        self.name = f"qlora-{bits}bit"

    def load_kwargs(self, cfg, on_gpu):
        import torch
        from transformers import BitsAndBytesConfig

        q = cfg["quantization"]
        compute = getattr(torch, q.get("compute_dtype", "float16")) if on_gpu else torch.float32
        if self.bits == 8:
            return {"quantization_config": BitsAndBytesConfig(load_in_8bit=True)}
        return {"quantization_config": BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type=q.get("quant_type", "nf4"),
            bnb_4bit_use_double_quant=q.get("double_quant", True), bnb_4bit_compute_dtype=compute)}

    def notes(self, cfg, on_gpu):
        if on_gpu:
            return []
        return [f"{self.name}: no GPU, so bitsandbytes' CPU backend quantizes the base and computes in "
                f"float32 (the paper: {cfg['quantization'].get('compute_dtype', 'float16')} compute on a GPU)"]

    def wrap(self, model, spec, cfg, tokenizer, model_path):
        disable_cpu_repacking(model)
        if upcasts_for_kbit(cfg):
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        return super().wrap(model, spec, cfg, tokenizer, model_path)

    def load_trained(self, base_model, weights_dir, spec):
        disable_cpu_repacking(base_model)
        return super().load_trained(base_model, weights_dir, spec)


def upcasts_for_kbit(cfg) -> bool:
    """Whether the quantized base's unquantized parameters are cast to fp32 before training
    (peft's `prepare_model_for_kbit_training`). The paper-era code did not (c55e532 train.py:
    `get_peft_model` straight after loading, fp16 parts kept in fp16); the revision trains with
    TRL's SFTTrainer, which prepares every k-bit model. Other precisions follow peft's advice."""
    return cfg.get("precision", "auto") != "paper-era"


def disable_cpu_repacking(model) -> int:
    """Turn off the avx512-bf16 inference repacking on every 4-bit layer; returns how many."""
    try:
        import bitsandbytes as bnb
    except ImportError:
        return 0
    n = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            n += 1
    return n

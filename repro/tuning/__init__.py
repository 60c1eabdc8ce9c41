"""Tuning methods, one small module each, behind one interface (`TuningMethod`).

`get(name)` returns the method: `none`, `full-ft`, `lora`, `ia3`, `prompt-tuning`,
`prefix-tuning`, `qlora-8bit`, `qlora-4bit`. Every PEFT method is built with `peft`;
quantization comes from `bitsandbytes` through `transformers.BitsAndBytesConfig`.
"""
from __future__ import annotations

from repro.tuning.base import TuningMethod
from repro.tuning import full, ia3, lora, prefix_tuning, prompt_tuning, qlora

METHODS: dict[str, TuningMethod] = {m.name: m for m in [
    TuningMethod(), full.FullFineTuning(), lora.LoRA(), ia3.IA3(), prompt_tuning.PromptTuning(),
    prefix_tuning.PrefixTuning(), qlora.QLoRA(8), qlora.QLoRA(4),
]}


def get(name: str) -> TuningMethod:
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown tuning method {name!r}; known: {', '.join(METHODS)}") from None

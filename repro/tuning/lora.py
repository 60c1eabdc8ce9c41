"""LoRA (r=16, alpha=32 in the paper) on the attention projections of each model family."""
from __future__ import annotations

from repro.tuning.base import PeftMethod, task_type


class LoRA(PeftMethod):
    name = "lora"

    def peft_config(self, spec, cfg, tokenizer, model_path):
        from peft import LoraConfig

        lc = cfg["lora"]
        return LoraConfig(task_type=task_type(spec), r=lc["r"], lora_alpha=lc["alpha"],
                          lora_dropout=lc["dropout"], bias=lc["bias"],
                          target_modules=list(lc.get("target_modules") or spec.lora_targets))

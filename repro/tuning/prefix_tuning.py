"""Prefix tuning: trained key/value prefixes in every layer (20 virtual tokens in the paper)."""
from __future__ import annotations

from repro.tuning.base import PeftMethod, task_type


class PrefixTuning(PeftMethod):
    name = "prefix-tuning"

    def peft_config(self, spec, cfg, tokenizer, model_path):
        from peft import PrefixTuningConfig

        return PrefixTuningConfig(task_type=task_type(spec), num_virtual_tokens=cfg["num_virtual_tokens"])

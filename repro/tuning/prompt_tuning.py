"""Prompt tuning: 20 virtual tokens, initialised from the text of the zero-shot instruction line."""
from __future__ import annotations

from repro.tuning.base import PeftMethod, task_type


class PromptTuning(PeftMethod):
    name = "prompt-tuning"
    equal_length_batches = True

    def peft_config(self, spec, cfg, tokenizer, model_path):
        from peft import PromptTuningConfig, PromptTuningInit

        from repro.tasks.nl2code.prompts import SYSTEM_LINE

        if cfg.get("prompt_init", "text") == "text":
            return PromptTuningConfig(task_type=task_type(spec), num_virtual_tokens=cfg["num_virtual_tokens"],
                                      prompt_tuning_init=PromptTuningInit.TEXT,
                                      prompt_tuning_init_text=SYSTEM_LINE,
                                      tokenizer_name_or_path=str(model_path))
        return PromptTuningConfig(task_type=task_type(spec), num_virtual_tokens=cfg["num_virtual_tokens"],
                                  prompt_tuning_init=PromptTuningInit.RANDOM)

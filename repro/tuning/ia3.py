"""(IA)3: learned rescaling vectors on attention and feed-forward modules."""
from __future__ import annotations

from repro.tuning.base import PeftMethod, task_type


class IA3(PeftMethod):
    name = "ia3"

    def peft_config(self, spec, cfg, tokenizer, model_path):
        from peft import IA3Config

        ic = cfg["ia3"]
        return IA3Config(task_type=task_type(spec),
                         target_modules=list(ic.get("target_modules") or spec.ia3_targets),
                         feedforward_modules=list(ic.get("feedforward_modules") or spec.ia3_feedforward))

"""Full fine-tuning: every weight trains (the paper runs it for the small models only)."""
from __future__ import annotations

from repro.tuning.base import TuningMethod


class FullFineTuning(TuningMethod):
    name = "full-ft"
    system_line_by_default = False

    def load_trained(self, base_model, weights_dir, spec):
        from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

        auto = AutoModelForSeq2SeqLM if spec.is_seq2seq else AutoModelForCausalLM
        model = auto.from_pretrained(str(weights_dir), dtype=base_model.dtype)
        model.eval()
        return model

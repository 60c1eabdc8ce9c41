"""The tuning-method interface: how a method changes loading, wraps the model, saves and reloads."""
from __future__ import annotations

from pathlib import Path


def task_type(spec) -> str:
    return "SEQ_2_SEQ_LM" if spec.is_seq2seq else "CAUSAL_LM"


class TuningMethod:
    """`none`: the base model as is (zero-shot, ICL, RAG)."""

    name = "none"
    # The base model as is gets the instruction line (`prompting.system_line: null`); a
    # tuned model was trained without it.
    system_line_by_default = True
    # Batch generation only among prompts of equal token length (peft's prompt tuning
    # ignores position ids, so left padding would change its beams).
    equal_length_batches = False

    def load_kwargs(self, cfg: dict, on_gpu: bool) -> dict:
        """Extra `from_pretrained` kwargs (quantization)."""
        return {}

    def notes(self, cfg: dict, on_gpu: bool) -> list[str]:
        """Plain-words notes on what this machine does differently from the paper's setup."""
        return []

    def wrap(self, model, spec, cfg: dict, tokenizer, model_path: str):
        """The trainable model."""
        return model

    def save(self, model, tokenizer, out_dir: Path) -> None:
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)

    def load_trained(self, base_model, weights_dir: Path, spec):
        """The tuned model for inference, given the freshly loaded base."""
        return base_model


class PeftMethod(TuningMethod):
    """Shared by the adapter methods: peft config -> get_peft_model; reload with PeftModel."""

    system_line_by_default = False

    def peft_config(self, spec, cfg: dict, tokenizer, model_path: str):
        """The peft config of this method (each adapter method overrides this)."""
        raise TypeError(f"{type(self).__name__} defines no peft config")

    def wrap(self, model, spec, cfg, tokenizer, model_path):
        from peft import get_peft_model

        return get_peft_model(model, self.peft_config(spec, cfg, tokenizer, model_path))

    def save(self, model, tokenizer, out_dir):
        model.save_pretrained(out_dir)

    def load_trained(self, base_model, weights_dir, spec):
        from peft import PeftModel

        model = PeftModel.from_pretrained(base_model, str(weights_dir))
        model.eval()
        return model

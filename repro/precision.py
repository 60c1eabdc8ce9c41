"""Numeric precision of a run: the dtype weights are loaded in, the Trainer's mixed precision and
QLoRA's compute dtype, as each version of the authors' code did it (PROTOCOL.md, "Two versions").

`tuning.precision` names the policy:
- `paper-era` (the MSR-era code, c55e532): PEFT and QLoRA load fp16 weights, full fine-tuning
  loads fp32 (fp32 master weights), the Trainer runs fp16 autocast, QLoRA computes in fp16.
- `tosem` (the revision branch): bf16 weights for every method, `bf16=True`, QLoRA bf16 compute.
- `auto` (default): fp16 autocast on a GPU (full fine-tuning on fp32 weights), fp32 on a CPU.
- `fp16` / `bf16` / `fp32`: that Trainer precision on every method (full fine-tuning keeps fp32
  weights under fp16 autocast).
The policy names match the code versions, so a run's code version can select its precision.
Full fine-tuning never trains fp16-stored weights: torch's GradScaler refuses fp16 gradients.
"""
from __future__ import annotations

from dataclasses import dataclass

POLICIES = ("auto", "paper-era", "tosem", "fp16", "bf16", "fp32")


@dataclass(frozen=True)
class PrecisionPlan:
    policy: str
    weights: str            # torch dtype name the base model is loaded in
    trainer: str            # "fp16" | "bf16" | "fp32": the Trainer's mixed precision
    qlora_compute: str      # bnb 4-bit compute dtype
    note: str               # plain words: what ran, and why when it is not what was asked

    def trainer_flags(self) -> dict:
        return {"fp16": {"fp16": True}, "bf16": {"bf16": True}}.get(self.trainer, {})

    def record(self) -> dict:
        return {"policy": self.policy, "weights": self.weights, "trainer": self.trainer,
                "qlora_compute": self.qlora_compute, "note": self.note}


def plan(policy: str, method: str, on_gpu: bool, registry_dtype: str = "float16") -> PrecisionPlan:
    """The precision a run of tuning `method` uses under `policy` on this machine
    (`registry_dtype`: the model's checkpoint dtype, which `auto` loads adapter methods in on a GPU)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown precision {policy!r}; known: {', '.join(POLICIES)}")
    full = method == "full-ft"
    if policy == "tosem":
        if on_gpu:
            return PrecisionPlan(policy, "bfloat16", "bf16", "bfloat16", "bf16 weights and bf16 autocast (TOSEM code)")
        return PrecisionPlan(policy, "bfloat16", "bf16", "float32",
                             "bf16 weights and bf16 autocast on the CPU (Trainer use_cpu=True, bf16=True); "
                             "QLoRA computes in float32 on bitsandbytes' CPU backend (TOSEM: bf16 on a GPU)")
    if policy == "bf16":
        return PrecisionPlan(policy, "float32", "bf16", "bfloat16", "fp32 weights, bf16 autocast")
    if policy == "fp32":
        return PrecisionPlan(policy, "float32", "fp32", "float32", "fp32")
    # paper-era, auto, fp16: fp16 autocast on a GPU, which a CPU Trainer does not offer.
    if not on_gpu:
        asked = {"paper-era": "the paper-era fp16 autocast", "fp16": "fp16 autocast"}.get(policy)
        note = (f"fp32: {asked} needs a GPU and this machine has none; ran in fp32 instead" if asked
                else "fp32 (CPU; the paper used fp16 on a GPU)")
        return PrecisionPlan(policy, "float32", "fp32", "float32", note)
    weights = "float32" if full or policy == "fp16" else registry_dtype if policy == "auto" else "float16"
    return PrecisionPlan(policy, weights, "fp16", "float16",
                         f"fp16 autocast on {weights} weights" + (" (fp32 master weights: full fine-tuning)" if full else ""))

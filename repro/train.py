"""Training as the paper did: Trainer, Adafactor, batch 8, up to 5 epochs, evaluation every
0.2 epoch, the checkpoint with the lowest validation loss kept, linear schedule, 5 % warmup.

Rows carry `prompt` and `target` (built by repro.prompts.training_pairs). Loss is over the
target tokens only (prompt tokens labelled -100); EOS ends every target. Rows of the TOSEM
code version carry a whole `text` instead, masked as its completion-only collator did.
Runs single-process or under `accelerate launch` (Trainer picks up the distributed setup).
"""
from __future__ import annotations

import math
import os
import json
import shutil
from pathlib import Path

from repro import device
from repro.scratch import temp_dir


def collate_padded(batch: list[dict], pad_id: int) -> dict:
    """Right-pad input_ids (pad id) and labels (-100); build the attention mask."""
    import torch

    longest = max(len(b["input_ids"]) for b in batch)
    longest_label = max(len(b["labels"]) for b in batch)
    seq2seq = any(len(b["labels"]) != len(b["input_ids"]) for b in batch) or batch[0].get("seq2seq", False)
    ids, mask, labels = [], [], []
    for b in batch:
        pad = longest - len(b["input_ids"])
        ids.append(b["input_ids"] + [pad_id] * pad)
        mask.append([1] * len(b["input_ids"]) + [0] * pad)
        target_len = longest_label if seq2seq else longest
        labels.append(b["labels"] + [-100] * (target_len - len(b["labels"])))
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}


def encode_row(tokenizer, row: dict, seq2seq: bool, max_length: int) -> dict:
    """A training row: a `prompt` + `target` pair, or a whole `text` whose loss mask is the
    authors' completion-only collator (repro/code_versions.py, the TOSEM code version)."""
    if "text" in row:
        from repro.code_versions import encode_text

        return encode_text(tokenizer, row["text"], max_length)
    return encode_example(tokenizer, row["prompt"], row["target"], seq2seq, max_length)


def encode_example(tokenizer, prompt: str, code: str, seq2seq: bool, max_length: int) -> dict:
    prompt_ids = tokenizer(prompt)["input_ids"]
    code_ids = tokenizer(code, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    if seq2seq:
        return {"input_ids": prompt_ids[:max_length], "labels": code_ids[:max_length], "seq2seq": True}
    ids = (prompt_ids + code_ids)[:max_length]
    labels = ([-100] * len(prompt_ids) + code_ids)[:max_length]
    return {"input_ids": ids, "labels": labels}


def target_cut(tokenizer, prompt: str, code: str, seq2seq: bool, max_length: int) -> str | None:
    """How max_length cuts a pair's target: None (whole, EOS included), "truncated" (target or
    its EOS cut) or "empty" (no target token left: every label is -100, nothing is learnt)."""
    prompt_len = len(tokenizer(prompt)["input_ids"])
    target_len = len(tokenizer(code, add_special_tokens=False)["input_ids"]) + 1
    room = max_length if seq2seq else max_length - prompt_len
    if room >= target_len:
        return None
    return "truncated" if room > 0 else "empty"


def _row_cut(tokenizer, row: dict, seq2seq: bool, max_length: int) -> str | None:
    if "text" in row:  # one text under a completion-only mask (tosem): cut when it does not fit
        return None if len(tokenizer(row["text"])["input_ids"]) <= max_length else "truncated"
    return target_cut(tokenizer, row["prompt"], row["target"], seq2seq, max_length)


def count_cut_targets(tokenizer, rows: list[dict], seq2seq: bool, max_length: int, split: str) -> dict:
    """`<split>_truncated_targets` (target or EOS cut, some target left) and `<split>_empty_targets`."""
    cuts = [_row_cut(tokenizer, r, seq2seq, max_length) for r in rows]
    return {f"{split}_truncated_targets": cuts.count("truncated"), f"{split}_empty_targets": cuts.count("empty")}


def precision_flags(requested: str, on_gpu: bool, method: str = "lora") -> tuple[dict, str]:
    """Trainer precision kwargs and a plain-words note of what was used and why (repro.precision)."""
    from repro.precision import plan

    p = plan(requested, method, on_gpu)
    return p.trainer_flags(), p.note


def refuse_fp16_trainable(model) -> None:
    """fp16 autocast needs fp32 trainable weights: torch's GradScaler refuses fp16 gradients
    ("Attempting to unscale FP16 gradients"). Say so before any step runs."""
    import torch

    bad = [n for n, p in model.named_parameters() if p.requires_grad and p.dtype == torch.float16]
    if bad:
        raise ValueError(f"{len(bad)} trainable parameters are stored in fp16 (e.g. {bad[0]}); fp16 mixed precision "
                         "trains fp32 weights: load the model in float32 (repro.precision does for full fine-tuning)")


def train(model, tokenizer, train_rows: list[dict], val_rows: list[dict], cfg: dict, *, seq2seq: bool,
          seed: int, on_gpu: bool, progress: bool = True, checkpoint_dir: str | None = None,
          scratch_dir: str | None = None, callbacks: list | None = None) -> dict:
    """Train in place (the best checkpoint by validation loss is loaded at the end); return stats.

    Checkpoints (weights, optimizer, scheduler and RNG states) go to `checkpoint_dir` (the
    run's partial directory; else a temporary directory). Training resumes from the last
    complete checkpoint found there (`last_complete_checkpoint`), with the same weights and
    training loss as an uninterrupted run (also from the final checkpoint: no step runs again).
    A caller's `checkpoint_dir` is left for the caller to remove; a temporary one is removed.
    `callbacks`: extra TrainerCallbacks (e.g. `repro measure`'s step timer)."""
    from transformers import Trainer, TrainingArguments

    enc = lambda rows: [encode_row(tokenizer, r, seq2seq, cfg["max_length"]) for r in rows]
    train_set, val_set = enc(train_rows), enc(val_rows)
    bs, ga = cfg["batch_size"], cfg["gradient_accumulation_steps"]
    world = _world_size()
    steps_per_epoch = max(1, math.ceil(len(train_set) / (bs * ga * world)))
    eval_steps = max(1, round(cfg["eval_every_epoch_fraction"] * steps_per_epoch))
    precision, precision_note = precision_flags(cfg["precision"], on_gpu, cfg.get("method", "lora"))
    if precision.get("fp16"):
        refuse_fp16_trainable(model)
    scratch = checkpoint_dir or str(temp_dir("train", scratch_dir))
    trainer = None
    try:
        args = TrainingArguments(
            output_dir=scratch, per_device_train_batch_size=bs, per_device_eval_batch_size=bs,
            gradient_accumulation_steps=ga, num_train_epochs=cfg["epochs"],
            max_steps=cfg["max_steps"] or -1, learning_rate=cfg["learning_rate"],
            optim="adafactor" if cfg["optimizer"] == "adafactor" else "adamw_torch",
            lr_scheduler_type=cfg["lr_scheduler"], warmup_steps=float(cfg["warmup_ratio"]),
            weight_decay=cfg["weight_decay"], eval_strategy="steps", eval_steps=eval_steps,
            save_strategy="steps", save_steps=eval_steps, save_total_limit=2,
            load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False,
            logging_strategy="steps", logging_steps=eval_steps, report_to=[], seed=seed, data_seed=seed,
            use_cpu=not on_gpu, disable_tqdm=not progress, dataloader_num_workers=0,
            remove_unused_columns=False, save_only_model=False, **precision)
        loss_sum = loss_sum_across_resume()
        trainer = Trainer(model=model, args=args, train_dataset=train_set, eval_dataset=val_set,
                          data_collator=lambda b: collate_padded(b, tokenizer.pad_token_id), callbacks=[loss_sum, *(callbacks or [])])
        loss_sum.trainer = trainer
        if not progress:
            quiet(trainer)
        initial = trainer.evaluate()["eval_loss"]
        last = last_complete_checkpoint(scratch) if os.path.isdir(scratch) else None
        if last:
            print(f"  resuming training from {Path(last).name}", flush=True)
            loss_sum.resume_from = last
        trainer.train(resume_from_checkpoint=last)
        history = [{"step": h["step"], "eval_loss": round(h["eval_loss"], 6)}
                   for h in trainer.state.log_history if "eval_loss" in h]
        train_losses = [round(h["loss"], 6) for h in trainer.state.log_history if "loss" in h]
        best = trainer.state.best_metric
        stats = {"initial_eval_loss": round(initial, 6), "best_eval_loss": round(best, 6) if best is not None else None,
                 "best_step": _step_of(trainer.state.best_model_checkpoint), "global_steps": trainer.state.global_step,
                 "steps_per_epoch": steps_per_epoch, "eval_every_steps": eval_steps,
                 "train_loss_curve": train_losses, "eval_history": history,
                 "train_loss": round(loss_sum.training_loss(), 6), "precision": precision_note,
                 "world_size": world, "train_examples": len(train_set), "validation_examples": len(val_set)}
        return stats
    finally:
        if world > 1 and trainer is not None:
            trainer.accelerator.wait_for_everyone()  # every rank is done reading checkpoints
        # The caller's checkpoints are kept, also after success: a run killed after training (e.g.
        # while saving its weights) resumes from the last one instead of training again; the
        # caller removes them once the run is complete (repro.pipeline). A temporary directory,
        # which nothing would find again, goes now.
        if device.rank() == 0 and checkpoint_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


# --- resuming: what the Trainer itself does not carry across a resume ---------------------------
LOSS_SUM_FILE = "repro_loss_sum.json"


def last_complete_checkpoint(folder: str) -> str | None:
    """The newest checkpoint that was completely written: the Trainer writes
    `trainer_state.json` last (transformers Trainer._save_checkpoint), then the callback
    below its loss sum. A checkpoint killed half-way lacks one of them (or holds a truncated
    one); it is removed, not resumed from (transformers' `get_last_checkpoint` would pick it)."""
    from transformers.trainer_utils import get_last_checkpoint

    while (last := get_last_checkpoint(folder)) is not None:
        try:
            json.loads((Path(last) / "trainer_state.json").read_text())
            float.fromhex(json.loads((Path(last) / LOSS_SUM_FILE).read_text())["total_loss_sum"])
            return last
        except (OSError, ValueError):
            print(f"  removing {Path(last).name}: it was not completely written", flush=True)
            shutil.rmtree(last)
    return None


def loss_sum_across_resume():
    """A TrainerCallback that keeps the training loss over the whole run, also when it resumed
    from a checkpoint: the Trainer's `training_loss` covers only the steps of its own
    `train()` call (transformers 5: `_total_loss_scalar / (global_step - _initial_global_step)`).
    The loss summed so far is saved beside each checkpoint and put back at the start of the
    resumed call, so the sum grows in the same order and `training_loss()` equals, bit for
    bit, an uninterrupted run's (checkpoints are saved at logging steps: nothing is pending)."""
    from transformers import TrainerCallback
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    class LossSumAcrossResume(TrainerCallback):
        trainer = None
        resume_from = None

        def on_train_begin(self, args, state, control, **kwargs):
            if self.resume_from:
                saved = json.loads((Path(self.resume_from) / LOSS_SUM_FILE).read_text())
                self.trainer._total_loss_scalar = float.fromhex(saved["total_loss_sum"])

        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            total = self.trainer._total_loss_scalar + self.trainer._tr_loss.item()
            if folder.is_dir() and device.rank() == 0:  # written last: it marks the checkpoint complete
                (folder / LOSS_SUM_FILE).write_text(json.dumps({"total_loss_sum": total.hex()}))

        def training_loss(self) -> float:
            """As the Trainer computes it for an uninterrupted run: the sum over every step / steps."""
            return self.trainer._total_loss_scalar / max(self.trainer.state.global_step, 0.001)

    return LossSumAcrossResume()


def quiet(trainer) -> None:
    """No per-step log dicts on stdout (progress bars are already off)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def _step_of(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    try:
        return int(Path(checkpoint).name.split("-")[-1])
    except ValueError:
        return None


def _world_size() -> int:
    return device.world_size()

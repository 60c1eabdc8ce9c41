"""Generation: beam search (10 beams, 10 candidates in the paper), sampling and greedy.

Prompts are batched with left padding, which gives the same candidates as one prompt at a
time for full fine-tuning, LoRA, IA3 and prefix tuning. peft's prompt tuning ignores
position ids, so with it only prompts of equal token length share a batch.
Stop strings (e.g. Conala's newline) end a beam: every vocabulary token whose text holds a
stop string acts as an end-of-sequence token, and candidates are cut at the stop afterwards.
A stop rule (`generation.stop_rule`, owned by a task: repro/tasks/<task>/) ends a sequence
on a condition of its text; `generate` receives it as a StoppingCriteria factory
`(tokenizer, prompt_length, gen)`. `generation.block_size` caps prompt + new tokens (new tokens = block size
minus the batch's prompt length, minus prompt tuning's virtual tokens).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from repro.metrics.exact_match import cut_at_stops


def stop_token_ids(tokenizer, stops: Sequence[str]) -> list[int]:
    ids = {tokenizer.eos_token_id}
    if stops:
        for token_id in range(len(tokenizer)):
            text = tokenizer.decode([token_id])
            if any(s and s in text for s in stops):
                ids.add(token_id)
    return sorted(i for i in ids if i is not None)


def reserved_prompt_tokens(model) -> int:
    """Virtual tokens a prompt-learning adapter (prompt tuning) puts before the input."""
    cfg = getattr(model, "active_peft_config", None)
    if cfg is not None and getattr(cfg, "is_prompt_learning", False):
        return int(cfg.num_virtual_tokens)
    return 0


def plan_batches(lengths: Sequence[int], batch_size: int, equal_length_only: bool) -> list[list[int]]:
    """Indices per batch: consecutive chunks, or chunks within groups of equal length."""
    if not equal_length_only:
        order = list(range(len(lengths)))
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    groups: dict[int, list[int]] = defaultdict(list)
    for i, n in enumerate(lengths):
        groups[n].append(i)
    batches = []
    for n in sorted(groups):
        g = groups[n]
        batches += [g[i:i + batch_size] for i in range(0, len(g), batch_size)]
    return batches


def generate(model, tokenizer, prompts: Sequence[str], gen: dict, *, seq2seq: bool, seed: int,
             equal_length_batches: bool = False, batch_size: int | None = None,
             stop_rule=None, progress: bool = True) -> list[list[str]]:
    """Candidates per prompt (decoded continuation, cut at the stop strings)."""
    import torch
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    tokenizer.padding_side = "right" if seq2seq else "left"
    batch_size = batch_size or gen.get("batch_size", 8)
    stops = gen.get("stop") or []
    eos_ids = stop_token_ids(tokenizer, stops)
    lengths = [len(tokenizer(p)["input_ids"]) for p in prompts]
    batches = plan_batches(lengths, batch_size, equal_length_batches)
    kwargs = dict(max_new_tokens=gen["max_new_tokens"], eos_token_id=eos_ids,
                  pad_token_id=tokenizer.pad_token_id)
    strategy = gen.get("strategy", "beam")
    if strategy == "beam":
        kwargs.update(num_beams=gen["num_beams"], num_return_sequences=gen["num_return_sequences"],
                      do_sample=False, early_stopping=True)
    elif strategy == "sample":
        kwargs.update(do_sample=True, temperature=gen["temperature"], top_p=gen["top_p"],
                      num_return_sequences=gen["num_return_sequences"], num_beams=1)
    else:
        kwargs.update(do_sample=False, num_beams=1, num_return_sequences=1)
    block_size = gen.get("block_size")
    reserved = reserved_prompt_tokens(model)
    out: list[list[str]] = [[] for _ in prompts]
    model.eval()
    with torch.no_grad():
        for b, idx in enumerate(tqdm(batches, desc="generate", unit="batch", disable=not progress)):
            torch.manual_seed(seed + b)
            enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True).to(device)
            batch_kwargs = dict(kwargs)
            if block_size:
                room = block_size - reserved - enc["input_ids"].shape[1]
                batch_kwargs["max_new_tokens"] = max(1, min(kwargs["max_new_tokens"], room))
            if stop_rule is not None:
                from transformers import StoppingCriteriaList

                batch_kwargs["stopping_criteria"] = StoppingCriteriaList(
                    [stop_rule(tokenizer, enc["input_ids"].shape[1], gen)])
            seqs = model.generate(**enc, **batch_kwargs)
            if not seq2seq:
                seqs = seqs[:, enc["input_ids"].shape[1]:]
            texts = tokenizer.batch_decode(seqs, skip_special_tokens=True)
            per = kwargs["num_return_sequences"]
            for j, i in enumerate(idx):
                out[i] = [cut_at_stops(t, stops) for t in texts[j * per:(j + 1) * per]]
    return out

"""Tiny local stand-ins for the paper's model families, built offline and deterministically.

`ensure_tiny(key)` returns the directory of a tiny model (Llama, CodeGen or T5 family),
building it on first use: a byte-level BPE tokenizer trained with `tokenizers` on the
bundled corpus, a random-init model from config, then a short deterministic
"pre-training" on the same corpus (a random base learns almost nothing under PEFT).
Same seed -> byte-identical files; their sha256 are pinned in `checksums/models.sha256`.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path


SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]
VOCAB_SIZE = 2048
PRETRAIN_STEPS = int(os.environ.get("REPRO_TINY_PRETRAIN_STEPS", "800"))
PRETRAIN_BLOCK = 96
SEED = 1234


def artifacts_dir() -> Path:
    return Path(os.environ.get("REPRO_ARTIFACTS", "artifacts")).resolve()


def corpus_lines() -> list[str]:
    """pretrain.txt, plus the code and (separately) the intents of the bundled training
    splits, shuffled: the base "knows" the code and the words, as a code LLM would, but never
    sees an intent next to its code, so zero-shot stays weak and tuning has work to do."""
    import json
    import random

    from repro.pins import check_file

    bundled = resources.files("repro").joinpath("bundled")
    check_file(Path(str(bundled.joinpath("pretrain.txt"))), "pretrain.txt", "data.sha256", "bundled corpus")
    lines = [ln for ln in bundled.joinpath("pretrain.txt").read_text(encoding="utf-8").splitlines() if ln.strip()]
    unpaired = []
    for rel in ("conala/train.jsonl", "codealpacapy/train.jsonl"):
        for row in map(json.loads, bundled.joinpath(rel).read_text(encoding="utf-8").splitlines()):
            unpaired += [row["nl"].replace("`", ""), row["cmd"]]
    random.Random(SEED).shuffle(unpaired)
    return lines + unpaired


def build_tokenizer(lines: list[str]):
    """Byte-level BPE trained on the bundled corpus, wrapped as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(lines, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>", model_max_length=1024)


def model_config(family: str, tokenizer):
    from transformers import CodeGenConfig, LlamaConfig, T5Config

    ids = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    if family == "llama":
        return LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=4,
                           num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
                           tie_word_embeddings=True, **ids)
    if family == "codegen":
        return CodeGenConfig(n_embd=128, n_layer=4, n_head=4, rotary_dim=16, n_positions=1024,
                             n_ctx=1024, tie_word_embeddings=False, **ids)
    if family == "t5":
        return T5Config(d_model=128, d_kv=32, d_ff=256, num_layers=3, num_decoder_layers=3,
                        num_heads=4, decoder_start_token_id=tokenizer.pad_token_id,
                        tie_word_embeddings=True, **ids)
    raise ValueError(f"no tiny model for family {family!r}")


def _pretrain_examples(tokenizer, lines: list[str], seq2seq: bool) -> list[dict]:
    ids: list[int] = []
    for line in lines:
        ids += tokenizer(line + "\n", add_special_tokens=False)["input_ids"]
    blocks = [ids[i:i + PRETRAIN_BLOCK] for i in range(0, len(ids) - PRETRAIN_BLOCK, PRETRAIN_BLOCK)]
    if not seq2seq:
        return [{"input_ids": b, "labels": b} for b in blocks]
    half = PRETRAIN_BLOCK // 2  # prefix-LM objective: the encoder reads a block's first half
    return [{"input_ids": b[:half], "labels": b[half:] + [tokenizer.eos_token_id]} for b in blocks]


def build_tiny(key: str, out_dir: Path, steps: int = PRETRAIN_STEPS, progress: bool = True) -> Path:
    """Build tokenizer + model for registry key `key` into out_dir (atomically)."""
    import torch
    from transformers import (AutoModelForCausalLM, AutoModelForSeq2SeqLM, Trainer, TrainingArguments,
                              set_seed)

    from repro.registry import MODELS

    spec = MODELS[key]
    lines = corpus_lines()
    set_seed(SEED)
    tokenizer = build_tokenizer(lines)
    config = model_config(spec.family, tokenizer)
    torch.manual_seed(SEED)
    auto = AutoModelForSeq2SeqLM if spec.is_seq2seq else AutoModelForCausalLM
    model = auto.from_config(config)
    examples = _pretrain_examples(tokenizer, lines, spec.is_seq2seq)
    from repro.scratch import temp_dir

    scratch = temp_dir("tiny-pretrain")   # named after its owner: swept if this process is killed
    try:
        args = TrainingArguments(output_dir=str(scratch), max_steps=steps, per_device_train_batch_size=16,
                                 learning_rate=2e-3, warmup_steps=20, lr_scheduler_type="cosine",
                                 weight_decay=0.0, logging_steps=max(1, steps // 4), save_strategy="no",
                                 report_to=[], seed=SEED, data_seed=SEED, use_cpu=True,
                                 disable_tqdm=not progress, dataloader_num_workers=0)
        from repro.train import collate_padded

        trainer = Trainer(model=model, args=args, train_dataset=examples,
                          data_collator=lambda b: collate_padded(b, tokenizer.pad_token_id))
        if not progress:
            from repro.train import quiet

            quiet(trainer)
        trainer.train()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    from repro.scratch import hidden_name

    # Built beside its destination under an owner-tagged name: a killed build is swept by the next one.
    prefix, suffix = hidden_name(out_dir.name)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=out_dir.parent))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out_dir)
    return out_dir


def ensure_tiny(key: str, progress: bool = True) -> Path:
    """Directory of tiny model `key`, built if missing."""
    from repro.pins import check_files

    import fcntl

    out = artifacts_dir() / "models" / key
    out.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time (parallel shards or test workers on one machine); the others wait.
    with open(out.parent / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        from repro.scratch import sweep_tree

        sweep_tree(out.parent, recursive=False)   # half-built models of killed builders
        if not (out / "config.json").exists():
            if progress:
                print(f"building tiny model {key} (offline, deterministic) -> {out}", flush=True)
            build_tiny(key, out, steps=PRETRAIN_STEPS, progress=progress)
    check_files(out, key, "models.sha256", "tiny model")
    return out

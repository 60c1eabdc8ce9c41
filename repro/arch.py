"""The paper models at their published shapes, without weights: build, adapt, count, check.

`hf_config(key)` turns the registry's architecture facts into a transformers config (optionally
at reduced depth); `adapted_on_meta(...)` builds the model on torch's meta device (no memory)
and applies a tuning method through the same `repro.tuning` calls a real run makes (same target
modules, virtual tokens, quantization config); `arch-check` counts trainable parameters for
every (model, method) of a manifest and matches them against the paper's printed counts.
"""
from __future__ import annotations

import shutil
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

from repro.errors import UserError
from repro.registry import ARCHITECTURES, MODELS

UNITS = {"K": 10**3, "M": 10**6, "B": 10**9}


def hf_config(key: str, num_layers: int | None = None):
    """The transformers config of a paper model at its published shape (or `num_layers` deep)."""
    from transformers import CONFIG_MAPPING

    if key not in ARCHITECTURES:
        raise UserError(f"model '{key}' has no architecture facts in the registry", field="model",
                        fix=f"use one of: {', '.join(ARCHITECTURES)}")
    arch = ARCHITECTURES[key]
    fields = dict(arch.config)
    if num_layers is not None:
        fields[arch.layers_field] = num_layers
        if arch.model_type == "t5":
            fields["num_decoder_layers"] = num_layers
    return CONFIG_MAPPING[arch.model_type](**fields)


def build_on_meta(spec, config):
    """The model class a run loads, built from `config` on the meta device (shapes only)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    auto = AutoModelForSeq2SeqLM if spec.is_seq2seq else AutoModelForCausalLM
    with torch.device("meta"):
        return auto.from_config(config)


def quantize_on_meta(model, quantization_config) -> None:
    """Swap linear layers for bitsandbytes ones, as `from_pretrained` does before loading weights."""
    from transformers.quantizers import AutoHfQuantizer

    quantizer = AutoHfQuantizer.from_config(quantization_config, pre_quantized=False)
    quantizer.preprocess_model(model, device_map={"": "cpu"})


def init_text_tokenizer(directory: Path) -> str:
    """A small byte-level tokenizer saved in `directory`, for prompt tuning's text initialisation.

    The real tokenizers live on the hub; the trainable count (virtual tokens x width) does not
    depend on the init text's token ids, only their embedding lookup does."""
    from repro.tasks.nl2code.prompts import SYSTEM_LINE
    from repro.tiny_models import build_tokenizer

    build_tokenizer([SYSTEM_LINE] * 4).save_pretrained(directory)
    return str(directory)


def adapted_on_meta(key: str, method_name: str, tuning_cfg: dict, tokenizer_dir: str, num_layers: int | None = None):
    """Model `key` with tuning method `method_name` applied through repro.tuning, on the meta device."""
    from transformers import AutoTokenizer

    from repro import tuning

    spec, method = MODELS[key], tuning.get(method_name)
    model = build_on_meta(spec, hf_config(key, num_layers))
    kwargs = method.load_kwargs(tuning_cfg, on_gpu=True)  # the paper's GPU setting
    if "quantization_config" in kwargs:
        quantize_on_meta(model, kwargs["quantization_config"])
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    return method.wrap(model, spec, tuning_cfg, tokenizer, tokenizer_dir)


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total): total is the logical count (a 4-bit weight counts its full shape)."""
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return trainable, total


def printing_rule(count: int, printed: str) -> str | None:
    """How `count` prints as `printed` (e.g. "2.7M"): "rounding", "truncation", or None.

    The paper is not consistent: CodeLlama-7B LoRA (12,582,912) is printed 12.5M (truncated),
    CodeT5+-220m LoRA (2,654,208) 2.7M (rounded); a count agrees under either rule."""
    mantissa, unit = printed[:-1], printed[-1]
    if unit not in UNITS:
        raise ValueError(f"not a printed parameter count: {printed!r}")
    step = Decimal(1).scaleb(-len(mantissa.split(".")[1])) if "." in mantissa else Decimal(1)
    exact = Decimal(count) / UNITS[unit]
    if exact.quantize(step, ROUND_HALF_UP) == Decimal(mantissa):
        return "rounding"
    if exact.quantize(step, ROUND_DOWN) == Decimal(mantissa):
        return "truncation"
    return None


def nominal_size(key: str) -> str | None:
    """The size in a model's name ("220M" for codet5p-220m), which the paper prints for full fine-tuning."""
    name = MODELS[key].hub_id.split("/")[-1].split("-")[1].upper()
    return name if name[-1] in UNITS else None


def verdict(key: str, method: str, trainable: int, printed: str | None) -> tuple[bool, str]:
    """(agrees, rule) for one Table 3 cell."""
    if printed is None:
        return True, "no printed value"
    if method == "full-ft":
        ok = printed == nominal_size(key)
        return ok, ("nominal: the paper prints the model's name size for full fine-tuning "
                    "(docs/ARCHITECTURES.md)" if ok else f"full fine-tuning printed {printed}, name says {nominal_size(key)}")
    rule = printing_rule(trainable, printed)
    return rule is not None, rule or f"{trainable:,} prints as neither {printed} rounded nor truncated"


def printed_reference(run) -> str | None:
    ref = run.reference.get("trainable_parameters")
    return ref.get("printed") if ref else None


# The tuning settings that decide which parameters exist (learning rates, epochs... do not).
SHAPE_SETTINGS = ("method", "lora", "ia3", "num_virtual_tokens", "prompt_init", "quantization")


def check_manifest(manifest) -> list[dict]:
    """One row per distinct (model, shape-relevant tuning settings) of the manifest's train runs,
    with the paper's printed count when one of those runs carries it."""
    import json

    cells: dict[tuple, dict] = {}
    from repro.scratch import temp_dir

    tmp = temp_dir("arch")   # owner-tagged: swept by the next start if this process is killed
    try:
        tok_dir = init_text_tokenizer(tmp)
        for run in manifest.runs:
            cfg = run.config
            method, key = cfg["tuning"]["method"], cfg["model"]
            if method == "none" or run.kind != "train" or MODELS[key].tiny:
                continue
            ident = (key, json.dumps({k: cfg["tuning"].get(k) for k in SHAPE_SETTINGS}, sort_keys=True))
            if ident not in cells:
                model = adapted_on_meta(key, method, cfg["tuning"], tok_dir)
                trainable, total = count_parameters(model)
                del model
                cells[ident] = {"run": run.id, "model": key, "method": method, "trainable": trainable,
                                "total": total, "printed": None}
            if printed_reference(run) and not cells[ident]["printed"]:
                cells[ident].update(run=run.id, printed=printed_reference(run))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = list(cells.values())
    for row in rows:
        row["ok"], row["rule"] = verdict(row["model"], row["method"], row["trainable"], row["printed"])
    return rows


def cmd_arch_check(args) -> int:
    from tabulate import tabulate

    from repro.manifest import load_manifest

    manifest = load_manifest(args.manifest)
    rows = check_manifest(manifest)
    if not rows:
        raise UserError("no train run of a paper model in the manifest", file=args.manifest,
                        fix="pass a manifest with train runs of registry models that have architecture facts")
    print(tabulate([[r["model"], r["method"], f"{r['trainable']:,}", f"{r['total']:,}", r["printed"] or "-",
                     "ok" if r["ok"] else "MISMATCH", r["rule"]] for r in rows],
                   headers=["model", "method", "trainable (ours)", "total", "paper", "verdict", "rule"]))
    bad = [r for r in rows if not r["ok"]]
    for r in bad:
        print(f"error: {r['run']}: {r['model']} {r['method']} has {r['trainable']:,} trainable parameters; "
              f"the paper prints {r['printed']} ({r['rule']})")
    print(f"{len(rows) - len(bad)}/{len(rows)} cells agree")
    return 1 if bad else 0


def cmd_models_arch() -> int:
    from tabulate import tabulate

    fields = ("hidden", "layers", "heads", "kv heads", "ffn", "vocab", "positions", "tied", "rotary")
    rows = []
    for key, arch in ARCHITECTURES.items():
        c = hf_config(key)
        rows.append([key, arch.model_type, *_shape_fields(c), arch.source])
    print(tabulate(rows, headers=["key", "type", *fields, "source"]))
    stand_ins = {}
    for key, arch in ARCHITECTURES.items():
        if arch.stand_in:
            stand_ins.setdefault(arch.stand_in, []).append(key)
    for text, keys in stand_ins.items():
        print(f"\n{', '.join(keys)}: {text}")
    return 0


def _shape_fields(c) -> list:
    if c.model_type == "t5":
        return [c.d_model, f"{c.num_layers}+{c.num_decoder_layers}", c.num_heads, c.num_heads, c.d_ff,
                c.vocab_size, "relative", c.tie_word_embeddings, "-"]
    if c.model_type == "codegen":
        return [c.n_embd, c.n_layer, c.n_head, c.n_head, c.n_inner or 4 * c.n_embd, c.vocab_size, c.n_positions,
                c.tie_word_embeddings, f"rotary_dim {c.rotary_dim}"]
    theta = (getattr(c, "rope_parameters", None) or {}).get("rope_theta", getattr(c, "rope_theta", None))
    return [c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.intermediate_size,
            c.vocab_size, c.max_position_embeddings, c.tie_word_embeddings, f"theta {theta:g}"]


def register(subparsers) -> None:
    p = subparsers.add_parser("arch-check", help="count trainable parameters of every (model, method) at full "
                                                 "size on the meta device and match the paper's printed counts")
    p.add_argument("-m", "--manifest", required=True)
    p.set_defaults(func=lambda args: cmd_arch_check(args))

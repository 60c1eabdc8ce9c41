"""Loading a base model and its tokenizer: tiny local stand-ins or hub models at a pinned revision."""
from __future__ import annotations


from repro.errors import UserError
from repro.registry import ModelSpec


def device_kind() -> str:
    from repro import device

    return device.kind()


def model_path(spec: ModelSpec, progress: bool = True) -> str:
    if spec.tiny:
        from repro.tiny_models import ensure_tiny

        return str(ensure_tiny(spec.key, progress=progress))
    from repro.lock import unpinned_allowed

    if spec.revision is None and not unpinned_allowed():
        raise UserError(f"model '{spec.key}' ({spec.hub_id}) has no pinned revision", field="revision",
                        file="checksums/inputs.lock.json",
                        fix="run `python -m repro lock` on a networked machine, or pass --allow-unpinned")
    return spec.hub_id


def load_tokenizer(spec: ModelSpec, path: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, revision=None if spec.tiny else spec.revision,
                                        trust_remote_code=spec.trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(spec: ModelSpec, path: str, extra_kwargs: dict | None = None, dtype: str | None = None):
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    from repro import device

    auto = AutoModelForSeq2SeqLM if spec.is_seq2seq else AutoModelForCausalLM
    kwargs = dict(extra_kwargs or {})
    on_gpu = device_kind() == "cuda"
    # The dtype applies to quantized loads too: it is what their unquantized parts (embeddings,
    # norms, head) load in, as both versions of the authors' code passed `torch_dtype` with a
    # quantization config (paper-era train.py:61-62 fp16, the revision bf16).
    if dtype or "quantization_config" not in kwargs:
        kwargs["dtype"] = getattr(torch, dtype) if dtype else (torch.float32 if not on_gpu else getattr(torch, spec.dtype))
    if on_gpu and "quantization_config" in kwargs:
        kwargs["device_map"] = {"": device.local_rank()}
    model = auto.from_pretrained(path, revision=None if spec.tiny else spec.revision,
                                 trust_remote_code=spec.trust_remote_code, **kwargs)
    if on_gpu and "device_map" not in kwargs:
        model = model.to(device.device())
    return model

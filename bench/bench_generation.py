"""Beam-search throughput: batched (left padding) vs one prompt at a time, on the tiny
models, with identical candidates required. Writes docs/performance/generation.md."""
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from repro import tuning  # noqa: E402
from repro.data import load_split  # noqa: E402
from repro.generate import generate  # noqa: E402
from repro.manifest import BUILTIN_DEFAULTS  # noqa: E402
from repro.modeling import load_model, load_tokenizer  # noqa: E402
from repro.tasks.nl2code.prompts import instruction_prompt  # noqa: E402
from repro.provenance import cpu_info  # noqa: E402
from repro.records import write_atomic  # noqa: E402
from repro.registry import MODELS  # noqa: E402
from repro.tiny_models import ensure_tiny  # noqa: E402

N_PROMPTS = 32
GEN = {"strategy": "beam", "num_beams": 10, "num_return_sequences": 10, "max_new_tokens": 64, "stop": ["\n"]}
BATCHES = (1, 8, 16)


def model_with(key: str, method: str, path: Path):
    spec = MODELS[key]
    tok = load_tokenizer(spec, str(path))
    model = load_model(spec, str(path))
    if method != "none":
        cfg = dict(BUILTIN_DEFAULTS["tuning"], method=method)
        model = tuning.get(method).wrap(model, spec, cfg, tok, str(path))
        torch.manual_seed(0)
        with torch.no_grad():  # untrained adapters are the identity; perturb them so they count
            for name, p in model.named_parameters():
                if p.requires_grad:
                    p.add_(0.02 * torch.randn_like(p))
    return spec, tok, model


def main() -> int:
    torch.set_num_threads(1)
    prompts = [instruction_prompt(r["intent"], system_line=False) for r in load_split("conala-bundled", "test")[:N_PROMPTS]]
    rows = []
    # The smoke run's pre-trained tiny models (built on first use), so outputs have realistic lengths.
    for key in ("tiny-llama", "tiny-t5"):
        path = ensure_tiny(key, progress=False)
        for method in ("none", "lora", "prefix-tuning", "prompt-tuning"):
            spec, tok, model = model_with(key, method, path)
            results, times = {}, {}
            for bs in BATCHES:
                t0 = time.perf_counter()
                results[bs] = generate(model, tok, prompts, GEN, seq2seq=spec.is_seq2seq, seed=0, batch_size=bs,
                                       equal_length_batches=method == "prompt-tuning", progress=False)
                times[bs] = time.perf_counter() - t0
            same = all(results[bs] == results[1] for bs in BATCHES)
            rate = {bs: N_PROMPTS / times[bs] for bs in BATCHES}
            rows.append((key, method, rate, same))
            print(f"{key:10s} {method:14s} " + "  ".join(f"b{bs}: {rate[bs]:6.2f}/s" for bs in BATCHES)
                  + f"  ratio b8/b1 {rate[8] / rate[1]:.2f}x  identical={same}", flush=True)
    if not all(r[3] for r in rows):
        print("batched candidates differ from one-at-a-time: see the table", file=sys.stderr)
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("torch", "transformers", "peft"))
    lines = ["# Beam-search throughput: batched vs one prompt at a time", "",
             f"`bench/bench_generation.py`: {N_PROMPTS} Conala-style prompts, beam search 10 beams / 10 returned, "
             "64 new tokens, newline stop, one thread, the smoke run's tiny models (adapters perturbed so they "
             "change the output). Prompt tuning batches only prompts of equal token length (peft ignores position "
             "ids), so its batches are smaller.", "",
             f"Machine: {cpu_info().get('model', platform.processor())}, {os.cpu_count()} cores; "
             f"Python {platform.python_version()}; {versions}", "",
             "| model | method | samples/s batch 1 | batch 8 | batch 16 | batch 8 / batch 1 | identical candidates |",
             "|---|---|---|---|---|---|---|"]
    notes = ["", "On a CPU the gain from batching is small: the step time is dominated by the linear layers, whose "
             "work grows with the batch (batch 1 already runs 10 beams as a batch of 10), and transformers repeats "
             "the prompt's prefill for every beam. Batching's ≥ 4× comes from GPUs, where a step costs about the "
             "same for 10 or 160 sequences; on these 2-core CPUs expect 1.2–2.1×. With 2 threads batch 1 became "
             "pathologically slow here (tiny ops, thread hand-offs), so the package uses 1 thread on CPU."]
    for key, method, rate, same in rows:
        lines.append(f"| {key} | {method} | {rate[1]:.2f} | {rate[8]:.2f} | {rate[16]:.2f} | "
                     f"{rate[8] / rate[1]:.2f}x | {'yes' if same else 'NO'} |")
    write_atomic(ROOT / "docs" / "performance" / "generation.md", "\n".join(lines + notes) + "\n")
    print("wrote docs/performance/generation.md")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

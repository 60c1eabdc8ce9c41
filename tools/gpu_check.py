"""`make gpu-check`: the package's GPU path, checked on one CUDA GPU in under ten minutes.

Parts (each reported as run, skipped with the reason, or failed):
1. shapes: every PEFT method on each large family at 2 layers, full width and vocabulary
   (CodeGen2-7B, CodeLlama 7B/13B/34B) through `repro.shapes.shape_check` on the GPU, in the
   paper manifest's precision (`paper-era`: fp16 weights, fp16 autocast, fp16 QLoRA compute);
   QLoRA through bitsandbytes' CUDA kernels.
2. memory: `repro measure` on CUDA for CodeLlama-7B-Python at full size (random weights):
   LoRA, QLoRA-8bit and QLoRA-4bit peak memory against Figure 1
   (manifests/paper/source/figure1_peak_memory.csv).
3. batching: full-size beam search (10 beams, 10 candidates) at batch 1, 8 and 16 (the same
   `repro measure` generation case): samples/s, the speedup of batching (target >= 4x) and
   whether batched outputs equal one-at-a-time outputs.
It writes docs/performance/gpu.md (device, library versions, results) and
calibration/<gpu>.json. It uses the Python it is started with and installs nothing
(`make gpu-check PYTHON=python3 NO_VENV=1`); a missing optional package skips only the parts
that need it. Without a GPU it says so, runs nothing and exits 0.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the checkout itself: no `pip install -e` on a GPU host's own Python

DOC = REPO / "docs" / "performance" / "gpu.md"
FIGURE1 = REPO / "manifests" / "paper" / "source" / "figure1_peak_memory.csv"
LARGE = ["codegen2-7b", "codellama-7b", "codellama-13b-python", "codellama-34b-python"]
PEFT = ["lora", "ia3", "prompt-tuning", "prefix-tuning", "qlora-8bit", "qlora-4bit"]
FULL_SIZE_MODEL = "codellama-7b-python"  # Figure 1's CodeLlama-7B is the Python variant
FULL_SIZE_METHODS = ["lora", "qlora-8bit", "qlora-4bit"]
PRECISION = "paper-era"  # manifests/paper: RQ2 follows the paper-era code (docs/PRECISION.md)
MINIMUM = {"torch": (2, 11), "transformers": (5, 17)}
OPTIONAL = {"bitsandbytes": "QLoRA-8bit and QLoRA-4bit (shapes and memory parts)",
            "sentence-transformers": "no part of gpu-check (RQ3's retriever only)",
            "psutil": "host-memory figures beside the GPU peaks"}


def say(text: str) -> None:
    print(f"gpu-check: {text}", flush=True)


def versions() -> dict:
    from repro.measure import library_versions

    found = library_versions(("torch", "transformers", "peft", "accelerate", "tokenizers", "safetensors", *OPTIONAL))
    return {**found, "python": f"{found['python']} ({sys.executable})"}


def too_old(found: dict) -> list[str]:
    notes = []
    for name, least in MINIMUM.items():
        v = found.get(name)
        if v is None:
            continue
        parts = tuple(int(p) for p in v.split("+")[0].split(".")[:2] if p.isdigit())
        if parts < least:
            notes.append(f"{name} {v} is older than {'.'.join(map(str, least))}, the oldest this check expects")
    return notes


def why_no_gpu() -> str | None:
    """None when a CUDA GPU can be used, else the plain reason."""
    try:
        import torch
    except ImportError:
        return f"torch is not installed in this Python ({sys.executable}), so no GPU can be used"
    if not torch.cuda.is_available():
        built = torch.version.cuda
        return (f"torch {torch.__version__} sees no CUDA GPU on this machine"
                + ("" if built else " (it is a CPU-only build of torch)"))
    return None


def figure1() -> dict[tuple[str, str], float]:
    from repro.registry import MODELS

    by_hub = {m.hub_id: k for k, m in MODELS.items()}
    with open(FIGURE1, encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    return {(by_hub[r["model"]], r["method"]): float(r["peak_gpu_memory_gb"]) for r in rows}


def part_shapes(has_bnb: bool, work: Path) -> list[dict]:
    import shutil

    from repro.shapes import shape_base, shape_check

    rows = []
    for key in LARGE:
        base = work / f"base-{key}"
        t0 = time.perf_counter()
        try:
            shape_base(key, 2, base, dtype="float16", build_device="cuda")
        except Exception as e:  # one family's failure does not hide the others
            rows += [{"model": key, "method": m, "status": "failed", "detail": f"base: {type(e).__name__}: {e}"}
                     for m in PEFT]
            continue
        for method in PEFT:
            if method.startswith("qlora") and not has_bnb:
                rows.append({"model": key, "method": method, "status": "skipped", "detail": "bitsandbytes missing"})
                continue
            t1 = time.perf_counter()
            try:
                r = shape_check(key, method, base, work / f"case-{key}-{method}", precision=PRECISION, on_gpu=True)
                ok = r["steps"] == 2 and r["updated"] and r["reload_max_abs_diff"] < 1e-2
                rows.append({"model": key, "method": method, "status": "ok" if ok else "failed",
                             "detail": f"{r['trainable']:,} trainable, reload diff {r['reload_max_abs_diff']:.1e}, "
                                       f"{r['dtype']}, {time.perf_counter() - t1:.0f} s"})
            except Exception as e:
                rows.append({"model": key, "method": method, "status": "failed",
                             "detail": f"{type(e).__name__}: {str(e)[:200]}"})
                traceback.print_exc()
            import torch

            torch.cuda.empty_cache()
        shutil.rmtree(base, ignore_errors=True)
        say(f"shapes {key}: done in {time.perf_counter() - t0:.0f} s")
    return rows


def part_measure(has_bnb: bool, work: Path, out: Path) -> tuple[dict | None, str]:
    methods = [m for m in FULL_SIZE_METHODS if has_bnb or not m.startswith("qlora")]
    cmd = [sys.executable, "-m", "repro", "measure", "--models", FULL_SIZE_MODEL, "--methods", ",".join(methods),
           "--steps", "3", "--precision", PRECISION, "--out", str(out), "--work", str(work / "measure"),
           "--build-on-gpu", "--note", "make gpu-check"]
    env = dict(os.environ, PYTHONPATH=str(REPO) + (os.pathsep + os.environ["PYTHONPATH"]
                                                 if os.environ.get("PYTHONPATH") else ""))
    say("memory and batching: " + " ".join(cmd[1:]))
    code = subprocess.call(cmd, cwd=REPO, env=env)
    if not out.exists():
        return None, f"`repro measure` exited {code} without writing {out}"
    return json.loads(out.read_text()), "" if code == 0 else f"`repro measure` exited {code}"


def render(device: dict, found: dict, notes: list[str], shapes: list[dict], calib: dict | None, calib_path: Path,
           minutes: float) -> str:
    paper = figure1()
    lines = ["# The GPU check (`make gpu-check`)", "",
             f"Written by `tools/gpu_check.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"in {minutes:.1f} minutes.", "", f"**Device:** {device['description']}", "",
             "| library | version |", "|---|---|"]
    lines += [f"| {k} | {v or 'not installed'} |" for k, v in found.items()]
    lines += ["", *[f"- note: {n}" for n in notes], ""]
    lines += ["## 1. Every PEFT method on the large families at 2 layers, full width (`repro.shapes`)", "",
              f"Precision `{PRECISION}`. A case is ok when 2 steps update the trainable weights, the reloaded "
              "model gives the same logits (within 1e-2 in fp16) and beam search returns its candidates.", "",
              "| model | method | result | detail |", "|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['method']} | {r['status']} | {r['detail']} |" for r in shapes] or ["| - | - | not run | |"]
    lines += ["", f"## 2. Peak memory at full size against Figure 1 ({FULL_SIZE_MODEL}, batch 8)", "",
              f"Figure 1: `manifests/paper/source/figure1_peak_memory.csv` (arXiv 2308.10462v3, RTX A5000 24 GB, "
              f"fp16). Ours: `{calib_path.relative_to(REPO) if calib_path.is_relative_to(REPO) else calib_path}`.", "",
              "| method | ours: peak allocated GB | ours: reserved GB | s/step | Figure 1 GB | ours - paper |",
              "|---|---|---|---|---|---|"]
    cases = calib["cases"] if calib else []
    for c in (c for c in cases if c["kind"] == "train"):
        ref = paper.get((c["model"], c["method"]))
        if c["status"] != "measured":
            lines.append(f"| {c['method']} | skipped: {c['reason']} | | | {ref or '-'} | |")
            continue
        diff = f"{c['peak_memory_gb'] - ref:+.2f}" if ref else "-"
        lines.append(f"| {c['method']} | {c['peak_memory_gb']:.2f} | {c.get('peak_reserved_gb', '-')} | "
                     f"{c['seconds_per_step']:.2f} | {ref or 'not in Figure 1'} | {diff} |")
    lines += ["", "## 3. Beam search at full size: batched vs one at a time", ""]
    for c in (c for c in cases if c["kind"] == "generate"):
        if c["status"] != "measured":
            lines.append(f"- skipped: {c['reason']}")
            continue
        rates = ", ".join(f"batch {b}: {v:.2f} samples/s" for b, v in c["samples_per_second"].items())
        lines += [f"- {rates} ({c['prompts']} prompts, {c['beams']} beams, {c['candidates']} candidates, "
                  f"{c['max_new_tokens']} new tokens)",
                  f"- batching speedup over batch 1: {c['batching_speedup']:.2f}x (target >= 4x: "
                  f"{'met' if c['batching_speedup'] >= 4 else 'NOT met'})",
                  f"- outputs identical to one-at-a-time: {c['identical_to_batch_1']}"]
    if not cases:
        lines.append("- not run")
    return "\n".join(lines) + "\n"


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    found = versions()
    reason = why_no_gpu()
    if reason:
        say(f"ran nothing: {reason}.")
        say("it needs one CUDA GPU (24-140 GB); docs/performance/gpu.md and the calibration file are left as they are.")
        return 0
    import torch

    from repro.measure import describe_device

    t0 = time.perf_counter()
    device = describe_device(torch)
    notes = too_old(found)
    missing = [f"{name} is not installed: skipped {what}" for name, what in OPTIONAL.items() if found.get(name) is None]
    notes += missing
    for n in notes:
        say(n)
    say(f"on {device['description']}")
    has_bnb = found.get("bitsandbytes") is not None
    calib_path = REPO / "calibration" / f"{device['slug']}.json"
    with tempfile.TemporaryDirectory(prefix="repro-gpu-check-") as tmp:
        work = Path(tmp)
        # The full-size parts first, in child processes, while this process holds no CUDA memory.
        calib, problem = part_measure(has_bnb, work, calib_path)
        if problem:
            notes.append(problem)
        try:
            shapes = part_shapes(has_bnb, work)
        except Exception as e:
            traceback.print_exc()
            shapes = [{"model": "-", "method": "-", "status": "failed", "detail": f"{type(e).__name__}: {e}"}]
    minutes = (time.perf_counter() - t0) / 60
    DOC.parent.mkdir(parents=True, exist_ok=True)
    from repro.records import write_atomic

    write_atomic(DOC, render(device, found, notes, shapes, calib, calib_path, minutes))
    failed = [r for r in shapes if r["status"] == "failed"]
    failed += [c for c in (calib or {}).get("cases", []) if c.get("failed")]
    say(f"wrote {DOC.relative_to(REPO)} and {calib_path.relative_to(REPO)} in {minutes:.1f} min; "
        f"{len(failed)} part(s) failed")
    return 1 if failed or problem else 0


if __name__ == "__main__":
    sys.exit(main())

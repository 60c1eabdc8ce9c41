"""`repro measure`: peak memory and speed of the paper's training and generation on the machine at hand.

Each paper model is built at full size with random weights (`repro.shapes.shape_base`: memory and
time do not depend on weight values) and, for each tuning method, trained for a few steps in the
paper's configuration (batch 8, rows drawn from the dataset, Adafactor, the run's precision from
`repro.precision`) through the package's own `repro.tuning` and `repro.train`. Beam search
(10 beams, 10 candidates) runs through `repro.generate` at batch 1, 8 and 16. Every case runs in a
child process, so its peak memory is its own and an out-of-memory kill ends that case only.

The results file (`calibration/<device>.json`, rewritten atomically after every case) holds the
device, library versions and, per case, peak memory and its kind, seconds per step and
generation samples/s; `repro plan --calibration FILE` reads it (`load_calibration`).
"""
from __future__ import annotations

import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from repro.errors import UserError
from repro.registry import ARCHITECTURES, DATASETS, MODELS

FORMAT = "repro-calibration/1"
CALIBRATION_DIR = Path("calibration")
METHODS = ["full-ft", "lora", "ia3", "prompt-tuning", "prefix-tuning", "qlora-8bit", "qlora-4bit"]
PAPER_MODELS = list(ARCHITECTURES)  # the eleven paper models, whose published shapes the registry holds
GENERATION_BATCHES = (1, 8, 16)
BATCH = 8
# The paper fully fine-tunes only the small models (Figure 1: up to CodeT5+ 770M).
FULL_FT_MAX_PARAMS = 1.0e9
# On a CPU, models above this size are skipped unless --allow-slow: a training step of a 1B model
# at batch 8 takes minutes on a few cores.
CPU_MAX_PARAMS = 0.8e9
CPU_GFLOPS = 40.0  # rough sustained fp32 rate of a few server cores, only to word a skip reason


# --- the device and the libraries ----------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def cpu_name() -> str:
    from repro.provenance import cpu_info

    return cpu_info()["model"]


def memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


def describe_device(torch_module=None) -> dict:
    """Slug, kind and plain description of where this process computes (the first GPU if any)."""
    cores = os.cpu_count() or 1
    torch = torch_module
    if torch is not None and torch.cuda.is_available():
        name, gb, count = _gpu_facts(torch)
        return {"slug": _slug(f"cuda-{name}") + (f"-x{count}" if count > 1 else ""), "kind": "cuda",
                "name": name, "gpus": count, "gpu_memory_gib": round(gb, 1),
                "description": f"{name} ({gb:.0f} GiB)" + (f" x{count}" if count > 1 else "")
                               + f"; host {cpu_name()}, {cores} cores",
                "cores": cores, "memory_gib": round(memory_gb(), 1)}
    name = cpu_name()
    return {"slug": f"cpu-{_slug(name)}-{cores}c", "kind": "cpu", "name": name, "cores": cores,
            "memory_gib": round(memory_gb(), 1),
            "description": f"{name}, {cores} cores, {memory_gb():.1f} GiB RAM, no GPU"}


def _gpu_facts(torch) -> tuple[str, float, int]:
    """Name, memory (GiB) and count of the GPUs: from nvidia-smi when present, so that the parent
    process creates no CUDA context (which would hold memory the cases need), else from torch."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=30, check=True).stdout.strip().splitlines()
        name, mib = out[0].rsplit(",", 1)
        return name.strip(), float(mib) / 1024, len(out)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        props = torch.cuda.get_device_properties(0)
        return props.name, props.total_memory / 2**30, torch.cuda.device_count()


def current_device_slug() -> str:
    """This machine's calibration slug, without importing torch unless a GPU driver is present."""
    if shutil.which("nvidia-smi"):
        try:
            import torch

            return describe_device(torch)["slug"]
        except ImportError:
            pass
    return describe_device()["slug"]


LIBRARIES = ("torch", "transformers", "peft", "accelerate", "bitsandbytes", "tokenizers")


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict:
    """Python's version and each library's (None when it is not installed)."""
    from repro.provenance import package_versions

    found = package_versions(tuple(names))
    return {"python": platform.python_version(),
            **{name: None if v == "not installed" else v for name, v in found.items()}}


# --- which cases run here ---------------------------------------------------------------------------
def _fp32_bytes_per_param(method: str) -> float:
    if method == "full-ft":
        return 12.0  # fp32 weights + gradients + Adafactor's factored state and update buffers
    return {"qlora-8bit": 1.2, "qlora-4bit": 0.7}.get(method, 4.0)


def skip_reason(key: str, method: str, device: dict, allow_slow: bool,
                cpu_max_params: float = CPU_MAX_PARAMS) -> str | None:
    """Why a (model, method) training case is not run on this device, or None."""
    params = MODELS[key].parameters
    if not MODELS[key].tiny and key not in ARCHITECTURES:
        return "the registry has no published architecture facts for it (repro.arch), so no base can be built"
    if method == "full-ft" and params > FULL_FT_MAX_PARAMS:
        return "the paper fully fine-tunes only the models up to 770M parameters (Figure 1)"
    if device["kind"] == "cuda":
        from repro.plan import train_memory_gb

        if not MODELS[key].tiny and train_memory_gb(key, method) > device["gpu_memory_gib"] * 1.07:
            return (f"needs about {train_memory_gb(key, method):.0f} GB by the Figure 1 fit; "
                    f"this GPU has {device['gpu_memory_gib']:.0f} GiB")
        return None
    need = params * _fp32_bytes_per_param(method) / 2**30 + 1.5
    if need > 0.85 * device["memory_gib"]:
        return (f"does not fit: about {need:.1f} GiB on a CPU (fp32 compute) and this machine has "
                f"{device['memory_gib']:.1f} GiB, of which 85 % is taken as usable")
    if params > cpu_max_params and not allow_slow:
        minutes = 6 * params * BATCH * 64 / (CPU_GFLOPS * 1e9) / 60
        return (f"over --cpu-max-params {cpu_max_params / 1e9:g}B: about {minutes:.0f} min or more per training "
                f"step on a CPU ({params / 1e9:.2f}B parameters; raise --cpu-max-params or pass --allow-slow)")
    if method.startswith("qlora") and not _has_module("bitsandbytes"):
        return "bitsandbytes is not installed"
    return None


def generation_skip_reason(key: str, device: dict, allow_slow: bool,
                           cpu_max_params: float = CPU_MAX_PARAMS) -> str | None:
    params = MODELS[key].parameters
    if not MODELS[key].tiny and key not in ARCHITECTURES:
        return "the registry has no published architecture facts for it (repro.arch), so no base can be built"
    if device["kind"] == "cuda":
        return None
    if params * 4 / 2**30 + 1.5 > 0.85 * device["memory_gib"]:
        return f"does not fit: {params * 4 / 2**30:.0f} GiB of fp32 weights on a CPU"
    if params > cpu_max_params and not allow_slow:
        return (f"over --cpu-max-params {cpu_max_params / 1e9:g}B: beam search at batch 1, 8 and 16 would take "
                f"hours on a CPU ({params / 1e9:.2f}B parameters)")
    return None


def _has_module(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


# --- the parent: one child process per case ------------------------------------------------------
def run_child(task: dict, work: Path, timeout: float | None = None, memory_limit_gb: float | None = None) -> dict:
    """Run one case (`task`) in a fresh Python; its result, or a failure record with the reason."""
    work.mkdir(parents=True, exist_ok=True)
    spec_path, result_path, log_path = work / "case.json", work / "result.json", work / "child.log"
    result_path.unlink(missing_ok=True)
    spec_path.write_text(json.dumps(task))
    env = dict(os.environ, PYTHONHASHSEED="0", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", HF_HUB_DISABLE_PROGRESS_BARS="1")
    root = str(Path(__file__).resolve().parent.parent)  # this checkout, also without `pip install -e`
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")

    def limit():
        if memory_limit_gb:
            cap = int(memory_limit_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            proc = subprocess.run([sys.executable, "-m", "repro.measure", "--child", str(spec_path), str(result_path)],
                                  stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout,
                                  preexec_fn=limit if memory_limit_gb else None)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
    wall = round(time.perf_counter() - t0, 1)
    if code == 0 and result_path.exists():
        result = json.loads(result_path.read_text())
        result["wall_seconds"] = wall
        return result
    tail = [ln for ln in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()][-1:]
    if code is None:
        why = f"timed out after {timeout:g} s (--case-timeout)"
    elif code < 0:
        why = f"killed by signal {-code}" + (" (out of memory?)" if -code == 9 else "")
    else:
        why = f"exited with status {code}"
    if memory_limit_gb:
        why += f" under --case-memory-limit {memory_limit_gb:g} GB"
    detail = f": {tail[0].strip()[:300]}" if tail else ""
    return {"status": "skipped", "failed": True, "reason": f"failed in its child process, {why}{detail}",
            "wall_seconds": wall}


def _rows(dataset: str, split: str, n: int, seed: int = 0) -> list[dict]:
    """`n` prompt/target pairs drawn at random from the dataset's split, as its template writes them."""
    import random

    from repro.data import load_split
    from repro.prompts import training_pairs

    rows = load_split(dataset, split)
    picked = [rows[i % len(rows)] for i in random.Random(seed).sample(range(len(rows)), min(n, len(rows)))]
    picked += [rows[i % len(rows)] for i in range(n - len(picked))]
    from repro import tasks

    template = next(iter(tasks.task_of(dataset).templates))  # the task's own (nl2code: instruction)
    return training_pairs(picked, template)


def cmd_measure(args) -> int:
    from repro.records import write_atomic
    from repro.scratch import temp_dir

    models = _names(args.models, PAPER_MODELS, MODELS, "--models")
    methods = _names(args.methods, METHODS, METHODS, "--methods")
    if args.dataset not in DATASETS:
        raise UserError(f"unknown dataset {args.dataset!r}", field="--dataset", fix=f"one of: {', '.join(DATASETS)}")
    from repro.precision import POLICIES

    if args.precision not in POLICIES:
        raise UserError(f"unknown precision {args.precision!r}", field="--precision", fix=f"one of: {', '.join(POLICIES)}")
    try:
        import torch
    except ImportError:
        raise UserError("torch is not installed in this Python", field="python",
                        fix="run `make setup` and use .venv/bin/python") from None
    device = describe_device(torch)
    out = Path(args.out) if args.out else CALIBRATION_DIR / f"{device['slug']}.json"
    work = Path(args.work) if args.work else temp_dir("measure")
    threads = args.threads or os.cpu_count() or 1
    gen = {"strategy": "beam", "num_beams": 10, "num_return_sequences": 10, "stop": [],
           "max_new_tokens": args.max_new_tokens or DATASETS[args.dataset].max_new_tokens}
    load = os.getloadavg()[0]
    doc = {"format": FORMAT, "device": device, "versions": library_versions(),
           "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "conditions": {"note": args.note or "", "load_average_at_start": round(load, 2),
                          "cpu_threads": threads},
           "settings": {"steps": args.steps, "batch": BATCH, "dataset": args.dataset, "precision": args.precision,
                        "max_length": _max_length(), "optimizer": "adafactor",
                        "lengths": f"{BATCH * args.steps} training rows of {args.dataset} drawn at random (seed 0), "
                                   "encoded by repro.train with the shape base's tokenizer",
                        "generation": {**gen, "prompts": args.gen_prompts, "batch_sizes": list(GENERATION_BATCHES)}},
           "memory_kind": _memory_kind(device), "complete": False, "cases": []}
    plan = []
    for key in models:
        for method in methods:
            plan.append(({"kind": "train", "model": key, "method": method},
                         skip_reason(key, method, device, args.allow_slow, args.cpu_max_params * 1e9)))
        if not args.skip_generation:
            plan.append(({"kind": "generate", "model": key, "method": "none"},
                         generation_skip_reason(key, device, args.allow_slow, args.cpu_max_params * 1e9)))
    to_run = sum(reason is None for _, reason in plan)
    print(f"measure on {device['description']}: {len(plan)} case(s), {to_run} to run, "
          f"{len(plan) - to_run} skipped -> {out}", flush=True)
    bases: dict[str, dict] = {}
    try:
        for i, (case, reason) in enumerate(plan, 1):
            label = f"[{i}/{len(plan)}] {case['model']} {'generation' if case['kind'] == 'generate' else case['method']}"
            if reason is None and case["model"] not in bases:
                print(f"building the random-weight base of {case['model']} (full size)", flush=True)
                bases[case["model"]] = _build_base(case["model"], work, args)
                _drop_other_bases(bases, case["model"], args.keep_bases)
            base = bases.get(case["model"])
            if reason is None and base.get("failed"):
                reason = f"its random-weight base could not be built: {base['reason']}"
            if reason is not None:
                record = {**case, "status": "skipped", "reason": reason}
                print(f"{label}: skipped: {reason}", flush=True)
            else:
                task = {**case, "base_dir": base["dir"], "work_dir": str(work / "cases"), "steps": args.steps,
                        "precision": args.precision, "dataset": args.dataset, "threads": threads, "generation": gen,
                        "gen_prompts": args.gen_prompts, "batch": BATCH}
                result = run_child(task, work / "child", args.case_timeout, args.case_memory_limit)
                record = {**case, **result}
                print(f"{label}: {_summary(record)}", flush=True)
            doc["cases"].append(record)
            write_atomic(out, json.dumps(doc, indent=1) + "\n")
    finally:
        if not args.keep_bases and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    doc["complete"] = True
    doc["conditions"]["load_average_at_end"] = round(os.getloadavg()[0], 2)
    write_atomic(out, json.dumps(doc, indent=1) + "\n")
    measured = sum(c["status"] == "measured" for c in doc["cases"])
    failed = sum(bool(c.get("failed")) for c in doc["cases"])
    print(f"wrote {out}: {measured} measured, {len(doc['cases']) - measured} skipped"
          + (f" ({failed} failed in their child process)" if failed else ""), flush=True)
    return 0


def _names(text: str | None, default: list[str], known, flag: str) -> list[str]:
    if not text:
        return list(default)
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in known]
    if bad:
        raise UserError(f"unknown name(s) {', '.join(bad)}", field=flag, fix=f"choose from: {', '.join(known)}")
    return names


def _max_length() -> int:
    from repro.manifest import BUILTIN_DEFAULTS

    return BUILTIN_DEFAULTS["tuning"]["max_length"]


def _memory_kind(device: dict) -> str:
    from repro.memory import CPU_KIND, GPU_KIND

    return GPU_KIND if device["kind"] == "cuda" else CPU_KIND


def _build_base(key: str, work: Path, args) -> dict:
    """The model's random-weight base, built in a child process (a tiny stand-in, which takes
    well under a second, in this one)."""
    if MODELS[key].tiny:
        return {"dir": _child_base({"model": key, "base_dir": str(work / "bases" / key)})["base_dir"]}
    result = run_child({"kind": "base", "model": key, "base_dir": str(work / "bases" / key), "threads": args.threads,
                        "build_on_gpu": getattr(args, "build_on_gpu", False)},
                       work / "child", args.case_timeout)
    return result if result.get("failed") else {"dir": result["base_dir"]}


def _drop_other_bases(bases: dict, keep: str, keep_all: bool) -> None:
    """Bases of full-size models are GBs on disk: keep only the current one."""
    for key in [k for k in bases if k != keep]:
        if not keep_all and not MODELS[key].tiny and "dir" in bases[key]:
            shutil.rmtree(bases[key]["dir"], ignore_errors=True)
        bases.pop(key)


def _summary(record: dict) -> str:
    if record["status"] != "measured":
        return f"skipped: {record['reason']}"
    if record["kind"] == "generate":
        rates = ", ".join(f"batch {b}: {v:.2f}/s" for b, v in record["samples_per_second"].items())
        return (f"{rates}; identical across batch sizes: {record['identical_across_batch_sizes']} "
                f"({record['wall_seconds']:.0f} s)")
    return (f"peak {record['peak_memory_gb']:.2f} GB, {record['seconds_per_step']:.2f} s/step "
            f"({record['wall_seconds']:.0f} s)")


# --- the child: one case ---------------------------------------------------------------------------
def child_main(spec_path: str, result_path: str) -> int:
    from repro.records import write_atomic

    task = json.loads(Path(spec_path).read_text())
    import torch

    torch.set_num_threads(int(task.get("threads") or os.cpu_count() or 1))
    if task["kind"] == "base":
        result = _child_base(task)
    elif task["kind"] == "train":
        result = _child_train(task)
    else:
        result = _child_generate(task)
    write_atomic(result_path, json.dumps(result))
    return 0


def _child_base(task: dict) -> dict:
    key = task["model"]
    if MODELS[key].tiny:  # a tiny stand-in, random weights like the others (no pre-training)
        from repro.tiny_models import build_tiny

        build_tiny(key, Path(task["base_dir"]), steps=0, progress=False)
        return {"base_dir": task["base_dir"]}
    from repro.shapes import shape_base

    Path(task["base_dir"]).mkdir(parents=True, exist_ok=True)
    build = "cuda" if task.get("build_on_gpu") else "cpu"
    return {"base_dir": str(shape_base(key, None, Path(task["base_dir"]), build_device=build))}


def _spec(key: str):
    # A local directory of the published shape: the native transformers class (repro.arch).
    return replace(MODELS[key], tiny=True, trust_remote_code=False)


class _NoSampler:
    """Stands in for the RSS sampler where psutil is missing (a GPU host's own Python): peak 0."""
    peak = start = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def host_sampler():
    """repro.memory's RSS sampler (the case's host memory), or a stand-in without psutil."""
    from repro.memory import RssSampler

    try:
        return RssSampler()
    except ImportError:
        return _NoSampler()


def _child_train(task: dict) -> dict:
    import copy

    import torch
    from transformers import TrainerCallback

    from repro import device, tuning
    from repro.manifest import BUILTIN_DEFAULTS, PAPER_LEARNING_RATES
    from repro.modeling import load_model, load_tokenizer
    from repro.precision import plan
    from repro.train import encode_row, train

    key, method_name, steps, batch = task["model"], task["method"], task["steps"], task["batch"]
    spec, method, on_gpu = _spec(key), tuning.get(task["method"]), device.on_gpu()
    cfg = copy.deepcopy(BUILTIN_DEFAULTS["tuning"])
    cfg.update(method=method_name, learning_rate=PAPER_LEARNING_RATES.get(method_name, 3e-4), max_steps=steps,
               epochs=1, batch_size=batch, eval_every_epoch_fraction=1.0, precision=task["precision"])
    cfg["quantization"]["bits"] = 8 if method_name == "qlora-8bit" else 4
    p = plan(task["precision"], method_name, on_gpu=on_gpu, registry_dtype=MODELS[key].dtype)
    rows = _rows(task["dataset"], "train", batch * steps)
    val = _rows(task["dataset"], "validation", batch, seed=1)

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.seconds, self._t = [], None

        def on_step_begin(self, args, state, control, **kwargs):
            if on_gpu:
                torch.cuda.synchronize()
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if on_gpu:
                torch.cuda.synchronize()
            self.seconds.append(time.perf_counter() - self._t)

    timer = StepTimer()
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    base = task["base_dir"]
    Path(task["work_dir"]).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with host_sampler() as rss:
        tokenizer = load_tokenizer(spec, base)
        model = method.wrap(load_model(spec, base, method.load_kwargs(cfg, on_gpu), dtype=p.weights),
                            spec, cfg, tokenizer, base)
        load_seconds = time.perf_counter() - t0
        lengths = [len(encode_row(tokenizer, r, spec.is_seq2seq, cfg["max_length"])["input_ids"]) for r in rows]
        stats = train(model, tokenizer, rows, val, cfg, seq2seq=spec.is_seq2seq, seed=0, on_gpu=on_gpu,
                      progress=False, scratch_dir=task["work_dir"], callbacks=[timer])
    timed = timer.seconds[1:] or timer.seconds
    result = {"status": "measured", "precision": p.record(), "batch": batch, "steps": stats["global_steps"],
              "seq_lengths": {"rows": len(lengths), "min": min(lengths), "median": statistics.median(lengths),
                              "mean": round(statistics.fmean(lengths), 1), "max": max(lengths),
                              "max_length": cfg["max_length"], "padding": "to the longest row of each batch"},
              "trainable_parameters": sum(q.numel() for q in model.parameters() if q.requires_grad),
              "seconds_per_step": round(statistics.fmean(timed), 3),
              "step_seconds": [round(s, 3) for s in timer.seconds],
              "load_seconds": round(load_seconds, 2), "train_loss": stats["train_loss"]}
    if on_gpu:
        result.update(peak_memory_gb=round(torch.cuda.max_memory_allocated() / 1e9, 3),
                      peak_reserved_gb=round(torch.cuda.max_memory_reserved() / 1e9, 3),
                      peak_kind="GPU: torch.cuda.max_memory_allocated over load + training (fresh process)",
                      peak_host_rss_gb=round(rss.peak / 1e9, 3))
    else:
        result.update(peak_memory_gb=round(rss.peak / 1e9, 3),
                      peak_kind="CPU: peak resident set size of the case's own process over load + training "
                                "(sampled every 20 ms; includes Python, torch and the weights)")
    return result


def _child_generate(task: dict) -> dict:
    import torch

    from repro import device
    from repro.generate import generate
    from repro.modeling import load_model, load_tokenizer
    from repro.precision import plan

    key = task["model"]
    spec, on_gpu = _spec(key), device.on_gpu()
    p = plan(task["precision"], "none", on_gpu=on_gpu, registry_dtype=MODELS[key].dtype)
    tokenizer = load_tokenizer(spec, task["base_dir"])
    model = load_model(spec, task["base_dir"], dtype=p.weights)
    prompts = [r["prompt"] for r in _rows(task["dataset"], "test", task["gen_prompts"])]
    outputs, rates, peaks, seconds = {}, {}, {}, {}
    for b in GENERATION_BATCHES:
        if on_gpu:
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with host_sampler() as rss:
            outputs[b] = generate(model, tokenizer, prompts, {**task["generation"], "batch_size": b},
                                  seq2seq=spec.is_seq2seq, seed=0, progress=False, batch_size=b)
        if on_gpu:
            torch.cuda.synchronize()
        seconds[str(b)] = round(time.perf_counter() - t0, 2)
        rates[str(b)] = round(len(prompts) / (time.perf_counter() - t0), 3)
        peaks[str(b)] = round((torch.cuda.max_memory_allocated() if on_gpu else rss.peak) / 1e9, 3)
    same = {str(b): outputs[b] == outputs[GENERATION_BATCHES[0]] for b in GENERATION_BATCHES}
    fastest = max(rates.values())
    return {"status": "measured", "precision": p.record(), "prompts": len(prompts),
            "max_new_tokens": task["generation"]["max_new_tokens"], "beams": task["generation"]["num_beams"],
            "candidates": task["generation"]["num_return_sequences"],
            "samples_per_second": rates, "seconds": seconds, "identical_to_batch_1": same,
            "identical_across_batch_sizes": all(same.values()),
            "batching_speedup": round(fastest / rates[str(GENERATION_BATCHES[0])], 2),
            "peak_memory_gb": peaks,
            "peak_kind": ("GPU: torch.cuda.max_memory_allocated per batch size" if on_gpu else
                          "CPU: peak resident set size of the case's process per batch size (incl. the weights)"),
            "samples": "prompts (test examples) per second, each yielding 10 candidates"}


# --- reading a calibration file (repro plan) --------------------------------------------------------
def load_calibration(path: str | os.PathLike) -> dict:
    """The file's content, checked: every field `repro plan` uses is present and sensible."""
    path = Path(path)
    fix = "pass a file written by `python -m repro measure` (calibration/<device>.json), or re-measure"

    def bad(message, field):
        return UserError(message, file=str(path), field=field, fix=fix)

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise bad("no such calibration file", "--calibration") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"cannot read the calibration file as JSON: {e}", "--calibration") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad(f"not a calibration file (expected format {FORMAT!r})", "format")
    if not isinstance(doc.get("device"), dict) or not isinstance(doc["device"].get("slug"), str):
        raise bad("the device is missing", "device.slug")
    if doc["device"].get("kind") not in ("cpu", "cuda"):
        raise bad("device kind must be 'cpu' or 'cuda'", "device.kind")
    cases = doc.get("cases")
    if not isinstance(cases, list):
        raise bad("no list of cases", "cases")
    for i, c in enumerate(cases):
        where = f"cases[{i}]"
        if not isinstance(c, dict):
            raise bad("a case must be an object", where)
        if c.get("model") not in MODELS:
            raise bad(f"unknown model {c.get('model')!r}", f"{where}.model")
        if c.get("kind") not in ("train", "generate"):
            raise bad(f"kind must be 'train' or 'generate', not {c.get('kind')!r}", f"{where}.kind")
        if c.get("status") not in ("measured", "skipped"):
            raise bad(f"status must be 'measured' or 'skipped', not {c.get('status')!r}", f"{where}.status")
        if c["kind"] != "train" or c["status"] != "measured":
            continue
        if c.get("method") not in METHODS:
            raise bad(f"unknown tuning method {c.get('method')!r}", f"{where}.method")
        for field in ("peak_memory_gb", "seconds_per_step"):
            v = c.get(field)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise bad(f"{field} must be a positive number, not {v!r}", f"{where}.{field}")
        b = c.get("batch")
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise bad(f"batch must be a whole number >= 1, not {b!r}", f"{where}.batch")
    return doc


def training_cases(doc: dict) -> dict[tuple[str, str], dict]:
    """(model, method) -> measured training case of a checked calibration file."""
    return {(c["model"], c["method"]): c for c in doc["cases"] if c["kind"] == "train" and c["status"] == "measured"}


def register(subparsers) -> None:
    from repro.cli import positive_int

    sp = subparsers.add_parser("measure", help="peak memory and speed of each (model, method) on this machine "
                                               "-> calibration/<device>.json")
    sp.add_argument("--models", help=f"comma-separated model keys (default: the {len(PAPER_MODELS)} paper models)")
    sp.add_argument("--methods", help=f"comma-separated tuning methods (default: {','.join(METHODS)})")
    sp.add_argument("--steps", type=positive_int, default=3, help="training steps per case (the first is not timed)")
    sp.add_argument("--out", help="results file (default calibration/<device>.json)")
    sp.add_argument("--skip-generation", action="store_true", help="no beam-search cases")
    sp.add_argument("--dataset", default="conala-bundled", help="rows whose lengths the cases train on")
    sp.add_argument("--precision", default="paper-era", help="precision policy of repro.precision (default paper-era)")
    sp.add_argument("--max-new-tokens", type=positive_int, help="beam-search length (default: the dataset's)")
    sp.add_argument("--gen-prompts", type=positive_int, default=16, help="prompts per generation case (default 16)")
    sp.add_argument("--threads", type=positive_int, help="torch threads per case (default: every core)")
    sp.add_argument("--cpu-max-params", type=float, default=CPU_MAX_PARAMS / 1e9, metavar="B",
                    help="on a CPU, skip models above this many billion parameters (default 0.8: the three small models)")
    sp.add_argument("--allow-slow", action="store_true", help="on a CPU, run every model that fits in memory")
    sp.add_argument("--case-timeout", type=float, metavar="SECONDS", help="end a case's process after this long")
    sp.add_argument("--case-memory-limit", type=float, metavar="GB",
                    help="address-space limit of each case's process (a case over it fails alone)")
    sp.add_argument("--note", help="conditions to record with the results (e.g. 'under load: CI ran alongside')")
    sp.add_argument("--work", help="scratch directory for bases and checkpoints (default: a temporary one)")
    sp.add_argument("--keep-bases", action="store_true", help="keep the random-weight bases after the run")
    sp.add_argument("--build-on-gpu", action="store_true",
                    help="build the random-weight bases on the GPU (a 7B model in seconds, no fp32 copy in host RAM)")
    sp.set_defaults(func=cmd_measure)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        sys.exit(child_main(sys.argv[2], sys.argv[3]))
    sys.exit("usage: python -m repro measure ... (this module's own entry point runs one case: --child SPEC RESULT)")

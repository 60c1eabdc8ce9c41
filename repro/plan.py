"""`repro plan`: estimated peak GPU memory and GPU-hours of every run, before the GPU bill.

Memory of a training run (GB) = P x (w + k_f) + c_f, P = parameters in billions, w = bytes
per stored weight (4 for full fine-tuning's fp32 master weights under mixed precision; the
model's dtype for PEFT; 1 for 8-bit, 0.53 for NF4 with double quantization), and (k_f, c_f)
fitted by least squares per family (full-ft / PEFT / QLoRA) to the peaks the paper measured
(Figure 1). PEFT methods absent from Figure 1 (IA3, prompt and prefix tuning) use the PEFT
fit, capped by the full fine-tuning estimate (the PEFT points span 1B-7B only); QLoRA-8bit
uses the QLoRA fit with w = 1. `calibration()` gives the fit's errors (`--show-fit`).

With `--calibration FILE` (written by `repro measure` on some device), a training run whose
(model, method) the file measured takes its peak memory and hours from the file instead
(hours = measured s/step x the run's optimizer steps, evaluation passes at a third of a step);
the per-run table's "basis" column says which runs did. Evaluation runs keep the model below.

Memory of an evaluation run = weights + key/value cache of (batch x beams or samples)
sequences of (prompt + new tokens) + a fixed overhead; the plan says the largest
generation batch that fits when the manifest's does not.

GPU-hours assume an RTX A5000-class GPU (constants below, all parameters of the module):
training compute = FLOPS_PER_PARAM_TOKEN x P x tokens at PEAK_TFLOPS x MFU; generation is
memory-bound, one read of the weights per decoding step at BANDWIDTH x BANDWIDTH_EFFICIENCY.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


from repro.registry import DATASETS, MODELS

PAPER_FIGURE1 = Path(__file__).resolve().parent.parent / "manifests" / "paper" / "source" / "figure1_peak_memory.csv"

# --- hardware and workload assumptions (RTX A5000: 24 GB, 768 GB/s, ~111 dense fp16 tensor TFLOPS) ---
PEAK_TFLOPS = 111.0
MFU = {"full": 0.25, "peft": 0.25, "qlora": 0.12}          # model-FLOPs utilisation while training
FLOPS_PER_PARAM_TOKEN = {"full": 6.0, "peft": 4.0, "qlora": 4.0}  # fwd 2 + bwd 4 (2 without weight grads)
BANDWIDTH_GBPS = 768.0
BANDWIDTH_EFFICIENCY = 0.6
CUDA_OVERHEAD_GB = 1.0                                       # context, cuBLAS workspace, activations in decoding
SPLIT_SIZES = {"conala": (2135, 201, 543), "codealpacapy": (2192, 314, 628), "apps": (4500, 500, 750)}
# (decoder layers carrying a KV cache, key/value width) per model; T5 counts self + cross attention.
ARCH = {"codet5p-220m": (24, 768), "codet5p-770m": (48, 1024), "codegen-350m-mono": (20, 1024),
        "codegen2-1b": (16, 2048), "codegen2-3.7b": (16, 4096), "codegen2-7b": (32, 4096),
        "codellama-7b": (32, 4096), "codellama-7b-instruct": (32, 4096), "codellama-7b-python": (32, 4096),
        "codellama-13b-python": (40, 5120), "codellama-34b-python": (48, 1024)}  # 34B: grouped-query, 8 KV heads
DTYPE_BYTES = {"float16": 2.0, "bfloat16": 2.0, "float32": 4.0}
QUANT_BYTES = {8: 1.0, 4: 0.53}


def family(method: str) -> str:
    return "full" if method == "full-ft" else "qlora" if method.startswith("qlora") else "peft"


def weight_bytes(model_key: str, method: str, bits: int | None = None) -> float:
    if method == "full-ft":
        return 4.0
    if method.startswith("qlora"):
        return QUANT_BYTES[bits or int(method[len("qlora-"):-len("bit")])]
    return DTYPE_BYTES[MODELS[model_key].dtype]


def _figure1_points() -> list[tuple[str, str, float]]:
    import csv

    with open(PAPER_FIGURE1, encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    by_hub = {m.hub_id: k for k, m in MODELS.items()}
    return [(by_hub[r["model"]], r["method"], float(r["peak_gpu_memory_gb"])) for r in rows]


def fit_memory_model() -> dict[str, tuple[float, float]]:
    """(k, c) per family: least squares of peak - P*w = P*k + c over Figure 1's points."""
    points: dict[str, list] = {}
    for model, method, peak in _figure1_points():
        p = MODELS[model].parameters / 1e9
        points.setdefault(family(method), []).append((p, peak - p * weight_bytes(model, method)))
    fit = {}
    for fam, pts in points.items():
        import numpy as np  # only `plan` needs it; `repro list` stays light

        x, y = np.array([p for p, _ in pts]), np.array([v for _, v in pts])
        k, c = np.polyfit(x, y, 1)
        fit[fam] = (float(k), float(c))
    return fit


_FIT: dict | None = None


def memory_fit() -> dict[str, tuple[float, float]]:
    global _FIT
    if _FIT is None:
        _FIT = fit_memory_model()
    return _FIT


def train_memory_gb(model_key: str, method: str, bits: int | None = None) -> float:
    k, c = memory_fit()[family(method)]
    p = MODELS[model_key].parameters / 1e9
    w = weight_bytes(model_key, method, bits)
    estimate = max(p * (w + k) + c, p * w)
    if family(method) == "peft":
        # The PEFT fit spans 1B-7B models; below that it extrapolates, and PEFT never needs more
        # memory than fully fine-tuning the same model.
        k_full, c_full = memory_fit()["full"]
        estimate = min(estimate, p * (4.0 + k_full) + c_full)
    return estimate


def calibration() -> list[dict]:
    """Figure 1's points against the fitted model."""
    return [{"model": m, "method": meth, "paper_gb": peak, "fitted_gb": round(train_memory_gb(m, meth), 2),
             "error_gb": round(train_memory_gb(m, meth) - peak, 2)} for m, meth, peak in _figure1_points()]


def _tokens(cfg: dict) -> tuple[int, int]:
    """Assumed tokens per prompt example and generated tokens per sample (the dataset's
    `plan_tokens` in the registry)."""
    return DATASETS[cfg["dataset"]].plan_tokens


def _split_sizes(dataset: str) -> tuple[int, int, int]:
    base = dataset.removesuffix("-bundled")
    if base in SPLIT_SIZES and not dataset.endswith("-bundled"):
        return SPLIT_SIZES[base]
    spec = DATASETS[dataset]
    if spec.split_sizes:  # from the registry; None = not known (train hours then unknown)
        return tuple(float("nan") if n is None else n for n in spec.split_sizes)
    from repro.data import bundled_path

    sizes = []
    for split in ("train", "validation", "test"):
        path = bundled_path(spec, split) if split in spec.splits else None
        sizes.append(sum(1 for _ in open(path, encoding="utf-8")) if path and path.exists() else 0)
    return tuple(sizes)


def _arch(model_key: str) -> tuple[int, int]:
    if model_key in ARCH:
        return ARCH[model_key]
    p = MODELS[model_key].parameters
    return 2, max(64, int(4096 * math.sqrt(p / 6.74e9)))


def eval_memory_gb(cfg: dict, batch: int | None = None) -> float:
    method, model = cfg["tuning"]["method"], cfg["model"]
    bits = cfg["tuning"]["quantization"]["bits"] if method.startswith("qlora") else None
    p = MODELS[model].parameters / 1e9
    w = weight_bytes(model, method, bits) if method.startswith("qlora") else DTYPE_BYTES[MODELS[model].dtype]
    gen = cfg["generation"]
    per_prompt = gen["num_beams"] if gen["strategy"] == "beam" else gen["num_return_sequences"]
    sequences = (batch or gen["batch_size"]) * per_prompt
    tokens = (cfg["prompting"]["n"] + 1) * _tokens(cfg)[0] + gen["max_new_tokens"]
    layers, kv_dim = _arch(model)
    kv_gb = 2 * layers * kv_dim * 2.0 * tokens * sequences / 1e9
    return p * w + kv_gb + CUDA_OVERHEAD_GB


@dataclass
class Estimate:
    run_id: str
    rq: str
    kind: str
    model: str
    method: str
    memory_gb: float
    fits: str
    gpu_hours: float
    basis: str = "fit"


def trained_epochs(cfg: dict) -> float:
    """Epochs a training run makes: `tuning.epochs`, or fewer when `tuning.max_steps` stops the
    Trainer first (steps of batch_size x gradient_accumulation_steps examples)."""
    t = cfg["tuning"]
    n_train = _split_sizes(cfg["dataset"])[0]
    if not t.get("max_steps") or not n_train or math.isnan(n_train):
        return t["epochs"]
    steps_per_epoch = math.ceil(n_train / (t["batch_size"] * t.get("gradient_accumulation_steps", 1)))
    return min(t["epochs"], t["max_steps"] / steps_per_epoch)


def train_gpu_hours(cfg: dict) -> float:
    t = cfg["tuning"]
    fam = family(t["method"])
    n_train, n_val, _ = _split_sizes(cfg["dataset"])
    tokens = _tokens(cfg)[0]
    p = MODELS[cfg["model"]].parameters
    epochs = trained_epochs(cfg)
    train_flops = FLOPS_PER_PARAM_TOKEN[fam] * p * n_train * tokens * epochs
    evals = max(1, round(epochs / t["eval_every_epoch_fraction"]))
    eval_flops = 2.0 * p * n_val * tokens * evals
    return (train_flops + eval_flops) / (PEAK_TFLOPS * 1e12 * MFU[fam]) / 3600


def eval_gpu_hours(cfg: dict, batch: int) -> float:
    method, model = cfg["tuning"]["method"], cfg["model"]
    p = MODELS[model].parameters
    bits = cfg["tuning"]["quantization"]["bits"] if method.startswith("qlora") else None
    w = weight_bytes(model, method, bits) if method.startswith("qlora") else DTYPE_BYTES[MODELS[model].dtype]
    _, _, n_test = _split_sizes(cfg["dataset"])
    if cfg.get("limit"):
        n_test = min(n_test, cfg["limit"])
    per_example, new_tokens = _tokens(cfg)
    steps = math.ceil(n_test / batch) * min(cfg["generation"]["max_new_tokens"], new_tokens)
    decode = steps * p * w / (BANDWIDTH_GBPS * 1e9 * BANDWIDTH_EFFICIENCY)
    prefill = 2.0 * p * n_test * (cfg["prompting"]["n"] + 1) * per_example / (PEAK_TFLOPS * 1e12 * 0.3)
    return (decode + prefill) / 3600


def calibrated_train_hours(cfg: dict, case: dict) -> float:
    """Hours of a training run at a measured case's seconds per step (at the case's batch size);
    an evaluation batch (forward only) counts as a third of a training step."""
    t = cfg["tuning"]
    n_train, n_val, _ = _split_sizes(cfg["dataset"])
    steps = math.ceil(n_train / (t["batch_size"] * t["gradient_accumulation_steps"])) * t["epochs"]
    eval_steps = round(t["epochs"] / t["eval_every_epoch_fraction"]) * math.ceil(n_val / t["batch_size"])
    return case["seconds_per_step"] * (steps + eval_steps / 3.0) / 3600


def estimate(run, gpu_memory_gb: float, calibrated: dict | None = None) -> Estimate:
    """The run's peak memory and hours: from `calibrated` ((model, method) -> measured case of a
    calibration file) when it covers a training run, else from the fit and the constants above."""
    cfg = run.config
    method = cfg["tuning"]["method"]
    case = (calibrated or {}).get((cfg["model"], method)) if run.kind == "train" else None
    if case is not None:
        mem = case["peak_memory_gb"]
        fits = "yes" if mem <= gpu_memory_gb else "NO"
        return Estimate(run.id, run.rq, run.kind, cfg["model"], method, round(mem, 2), fits,
                        calibrated_train_hours(cfg, case), "calibration")
    if run.kind == "train":
        bits = cfg["tuning"]["quantization"]["bits"] if method.startswith("qlora") else None
        mem = train_memory_gb(cfg["model"], method, bits)
        fits = "yes" if mem <= gpu_memory_gb else "NO"
        hours = train_gpu_hours(cfg)
    else:
        batch = cfg["generation"]["batch_size"]
        mem = eval_memory_gb(cfg, batch)
        fits = "yes"
        while mem > gpu_memory_gb and batch > 1:
            batch = max(1, batch // 2)
            mem = eval_memory_gb(cfg, batch)
            fits = f"with generation batch {batch}"
        if mem > gpu_memory_gb:
            fits = "NO"
        hours = eval_gpu_hours(cfg, batch)
    return Estimate(run.id, run.rq, run.kind, cfg["model"], method, round(mem, 2), fits, hours)


def plan(runs, gpu_memory_gb: float = 24.0, calibrated: dict | None = None) -> list[Estimate]:
    return [estimate(r, gpu_memory_gb, calibrated) for r in runs]


def render(estimates: list[Estimate], gpu_memory_gb: float, fmt: str = "simple", per_run: bool = True) -> str:
    from tabulate import tabulate

    parts = []
    mixed = any(e.basis != "fit" for e in estimates)   # hours of two devices: never summed together
    if per_run:
        parts.append(tabulate([[e.run_id, e.rq, e.kind, e.model, e.method, f"{e.memory_gb:.2f}", e.fits,
                                "unknown" if math.isnan(e.gpu_hours) else f"{e.gpu_hours:.3f}", e.basis]
                               for e in estimates],
                              headers=["run", "rq", "kind", "model", "tuning", "peak GB (est.)",
                                       f"fits {gpu_memory_gb:g} GB",
                                       "hours (est., see basis)" if mixed else "GPU-hours (est.)", "basis"],
                              tablefmt=fmt,
                              disable_numparse=True))
    by_rq: dict[str, list[Estimate]] = {}
    for e in estimates:
        by_rq.setdefault(e.rq, []).append(e)

    def hours(es):
        known = [e for e in es if not math.isnan(e.gpu_hours)]
        unknown = len(es) - len(known)
        text = f"{sum(e.gpu_hours for e in known if e.basis == 'fit'):.1f}"
        if mixed:
            text += f" + {sum(e.gpu_hours for e in known if e.basis != 'fit'):.1f} calibrated"
        return text + (f" (+{unknown} run(s) of unknown size)" if unknown else "")

    hours_header = "GPU-hours (est.)" if not mixed else "hours (est.): A5000 fit + calibrated device"

    rows = [[rq, len(es), sum(e.fits == "NO" for e in es), sum(e.fits.startswith("with") for e in es),
             hours(es)] for rq, es in sorted(by_rq.items())]
    rows.append(["total", len(estimates), sum(e.fits == "NO" for e in estimates),
                 sum(e.fits.startswith("with") for e in estimates), hours(estimates)])
    parts.append(tabulate(rows, headers=["rq", "runs", "do not fit", "need a smaller generation batch",
                                         hours_header], tablefmt=fmt, disable_numparse=True))
    return "\n\n".join(parts)


def calibration_text(fmt: str = "simple") -> str:
    from tabulate import tabulate

    rows = calibration()
    import numpy as np

    errors = np.array([r["error_gb"] for r in rows])
    fit = memory_fit()
    head = "; ".join(f"{f}: k={k:.3f} GB/B, c={c:.2f} GB" for f, (k, c) in sorted(fit.items()))
    return (f"memory model fitted to Figure 1 ({head})\n"
            + tabulate([[r["model"], r["method"], r["paper_gb"], r["fitted_gb"], f"{r['error_gb']:+.2f}"] for r in rows],
                       headers=["model", "method", "paper GB", "fitted GB", "error"], tablefmt=fmt)
            + f"\nRMSE {math.sqrt(float(np.mean(errors ** 2))):.2f} GB, largest error {float(np.max(np.abs(errors))):.2f} GB")


def cmd_plan(args) -> int:
    from repro.manifest import load_manifest

    m = load_manifest(args.manifest)
    runs = m.select(args.only, args.rq)
    if not runs:
        from repro.errors import UserError

        raise UserError("no run matches the selection", field="--only", fix="check the pattern with `repro list`")
    calibrated = doc = None
    if args.calibration:
        from repro.measure import load_calibration, training_cases

        doc = load_calibration(args.calibration)
        calibrated = training_cases(doc)
    estimates = plan(runs, args.gpu_memory, calibrated)
    print(render(estimates, args.gpu_memory, args.format, per_run=not args.quiet))
    print("\n" + basis_text(estimates, args.calibration, doc))
    if args.show_fit:
        print("\n" + calibration_text(args.format))
    return 0


def basis_text(estimates: list[Estimate], path: str | None, doc: dict | None) -> str:
    """Where the numbers came from: the calibration file (which device) or the fit; and, without
    a file, which file of calibration/ was measured on this device."""
    n = sum(e.basis == "calibration" for e in estimates)
    fit = ("basis 'fit': memory fitted to Figure 1, hours from RTX A5000-class constants "
           "(repro/plan.py)")
    if doc is not None:
        return (f"basis 'calibration': {n} of {len(estimates)} run(s) take peak memory and hours measured on "
                f"{doc['device']['description']} ({path}, {doc.get('measured_at', 'undated')}); "
                f"hours there are that device's hours, not an A5000's\n{fit}: the other runs")
    from repro.measure import CALIBRATION_DIR, current_device_slug

    here = CALIBRATION_DIR / f"{current_device_slug()}.json"
    note = (f"\nnote: {here} was measured on this device; pass --calibration {here} to use its numbers"
            if here.is_file() else "")
    return f"{fit}: every run{note}"


def register(subparsers) -> None:
    sp = subparsers.add_parser("plan", help="estimated peak GPU memory and GPU-hours per run, before running")
    sp.add_argument("--manifest", "-m", required=True, help="manifest file or directory")
    sp.add_argument("--only", help="glob(s) over run ids, comma-separated")
    sp.add_argument("--rq", help="only this research question")
    sp.add_argument("--gpu-memory", type=float, default=24.0, metavar="GB", help="memory of one GPU (default 24)")
    sp.add_argument("--format", choices=["simple", "github"], default="simple")
    sp.add_argument("--quiet", "-q", action="store_true", help="totals only")
    sp.add_argument("--show-fit", action="store_true", help="also print the memory model's fit to Figure 1")
    sp.add_argument("--calibration", metavar="FILE",
                    help="peak memory and s/step measured by `repro measure` (calibration/<device>.json): used "
                         "for the training runs it covers, the fit for the others (see the basis column)")
    sp.set_defaults(func=cmd_plan)

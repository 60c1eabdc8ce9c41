"""Run orchestration: one manifest run from data to a verified run directory.

`run_one(run, manifest, out_root)` loads data, builds prompts, tunes or loads tuned
weights, generates, scores and writes `predictions.jsonl`, `metrics.json`, `run.json` and
`SHA256SUMS` atomically into `<out_root>/<run id>/`. A run whose directory is complete,
verified and made from the same configuration is skipped (resume).
"""
from __future__ import annotations

import json
import resource
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from repro import records, tasks
from repro.manifest import Manifest, Run
from repro.registry import MODELS

def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class StageClock:
    """Wall time and peak memory per stage, for run.json."""

    def __init__(self):
        self.stages: dict[str, dict] = {}

    @contextmanager
    def stage(self, name: str):
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        yield
        entry = {"seconds": round(time.perf_counter() - t0, 3), "peak_rss_mb": peak_rss_mb()}
        if torch.cuda.is_available():
            entry["peak_gpu_allocated_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 3)
        self.stages[name] = entry


def _shared_checkpoints(out_root: Path, run: Run) -> Path | None:
    """Under a distributed launch, the checkpoint directory every rank uses (else None: a temp dir)."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return None
    return Path(out_root).resolve() / f".{run.id}.checkpoints"


def process_rank() -> int:
    """This process's rank under `accelerate launch` / torchrun (0 when single-process)."""
    import os

    return int(os.environ.get("RANK", "0"))


def is_complete(run: Run, run_dir: Path) -> bool:
    """Outputs present, checksums verified, made from this exact configuration."""
    meta = run_dir / "run.json"
    if not meta.exists() or not (run_dir / records.SUMS_NAME).exists():
        return False
    if records.verify_sums(run_dir):
        return False
    try:
        return json.loads(meta.read_text())["config_hash"] == run.config_hash()
    except (KeyError, json.JSONDecodeError):
        return False


def _provenance(run: Run) -> dict:
    from repro import provenance

    return provenance.collect(run.config)


def _inputs(run: Run) -> dict:
    from repro.pins import input_pins

    return input_pins(run.config["model"], run.config["dataset"])


def _seed_everything(seed: int) -> None:
    from transformers import set_seed

    set_seed(seed)


def run_one(run: Run, manifest: Manifest, out_root: Path, *, progress: bool = True, force: bool = False,
            options: dict | None = None) -> Path:
    """`options`: execution settings that are not part of the run's identity
    (`sandbox`: auto | docker | bubblewrap | unsafe-subprocess, `allow_unsafe`)."""
    run_dir = Path(out_root) / run.id
    if not force and is_complete(run, run_dir):
        return run_dir
    rank = process_rank()
    if rank > 0:  # under `accelerate launch`: every rank trains, only rank 0 writes the run
        if run.kind != "train":
            return run_dir
        with tempfile.TemporaryDirectory(prefix=f"repro-rank{rank}-") as scratch:
            _train_run(run, Path(scratch), StageClock(), progress=False, checkpoint_dir=_shared_checkpoints(out_root, run))
        return run_dir
    if run_dir.exists():
        shutil.rmtree(run_dir)  # an incomplete or stale attempt: start clean
    tmp_dir = run_dir.with_name(f".{run.id}.partial")
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir(parents=True)
    clock = StageClock()
    t0 = time.perf_counter()
    cfg = run.config
    if run.kind == "train":
        result = _train_run(run, tmp_dir, clock, progress, checkpoint_dir=_shared_checkpoints(out_root, run))
    else:
        result = _evaluate_run(run, manifest, Path(out_root), tmp_dir, clock, progress, options or {})
    meta = {"run_id": run.id, "manifest": manifest.path, "study": manifest.study, "config": cfg,
            "config_hash": run.config_hash(), "seed": cfg["seed"], "stages": clock.stages,
            "wall_seconds": round(time.perf_counter() - t0, 3), "peak_rss_mb": peak_rss_mb(),
            "command": sys.argv, "provenance": _provenance(run), "inputs": _inputs(run),
            **result.get("meta", {})}
    records.write_json(tmp_dir / "run.json", meta)
    records.write_sums(tmp_dir)
    tmp_dir.rename(run_dir)
    return run_dir


def _load(run: Run, progress: bool, weights_from: Path | None = None, for_training: bool = False):
    from repro import modeling, tuning

    spec = MODELS[run.config["model"]]
    method = tuning.get(run.config["tuning"]["method"])
    path = modeling.model_path(spec, progress=progress)
    # Building a tiny model on first use trains it (and moves the RNG): seed again, so adapter
    # initialisation does not depend on whether the base was already built.
    _seed_everything(run.config["seed"])
    tokenizer = modeling.load_tokenizer(spec, path)
    on_gpu = modeling.device_kind() == "cuda"
    model = modeling.load_model(spec, path, method.load_kwargs(run.config["tuning"], on_gpu))
    if for_training:
        model = method.wrap(model, spec, run.config["tuning"], tokenizer, path)
    elif weights_from is not None:
        model = method.load_trained(model, weights_from, spec)
    return spec, method, tokenizer, model, on_gpu, path


def _trainable(model) -> dict:
    if hasattr(model, "get_nb_trainable_parameters"):
        trainable, total = model.get_nb_trainable_parameters()
    else:
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable_parameters": int(trainable), "total_parameters": int(total),
            "trainable_percent": round(100.0 * trainable / total, 4) if total else 0.0}


def _train_run(run: Run, tmp_dir: Path, clock: StageClock, progress: bool,
               checkpoint_dir: Path | None = None) -> dict:
    from repro import train as training
    from repro.data import load_split

    cfg = run.config
    _seed_everything(cfg["seed"])
    from repro.prompts import training_pairs

    task = tasks.task_of(cfg["dataset"])
    template = cfg["prompting"]["template"]
    with clock.stage("data"):
        train_rows = training_pairs(load_split(cfg["dataset"], "train"), template)
        val_rows = training_pairs(load_split(cfg["dataset"], "validation"), template)
    with clock.stage("load"):
        spec, method, tokenizer, model, on_gpu, model_dir = _load(run, progress, for_training=True)
    dropped = {}
    if cfg["tuning"].get("over_length") == "drop":  # drop, not truncate (the unit-test study)
        train_rows, val_rows, dropped = task.drop_over_length(train_rows, val_rows, tokenizer, model,
                                                              cfg["tuning"]["max_length"])
    params = _trainable(model)
    with clock.stage("train"):
        stats = training.train(model, tokenizer, train_rows, val_rows, cfg["tuning"], seq2seq=spec.is_seq2seq,
                               seed=cfg["seed"], on_gpu=on_gpu, progress=progress,
                               checkpoint_dir=str(checkpoint_dir) if checkpoint_dir else None)
    with clock.stage("save"):
        method.save(model, tokenizer, tmp_dir / "weights")
        _strip_machine_paths(tmp_dir / "weights", str(model_dir), spec.key)
    metrics = {**params, **dropped, **{k: v for k, v in stats.items() if k not in ("precision", "world_size")}}
    records.write_json(tmp_dir / "metrics.json", metrics)
    train_stage = clock.stages["train"]
    records.write_json(tmp_dir / "resources.json", {
        "peak_memory_gb": round(train_stage.get("peak_gpu_allocated_gb", train_stage["peak_rss_mb"] / 1024), 3),
        "peak_memory_kind": "cuda max allocated" if on_gpu else "process peak RSS",
        "train_seconds": train_stage["seconds"]})
    notes = [f"precision: {stats['precision']}"] + method.notes(cfg["tuning"], on_gpu)
    print(f"  {run.id}: eval loss {stats['initial_eval_loss']} -> {stats['best_eval_loss']} "
          f"({stats['global_steps']} steps, {params['trainable_parameters']:,} trainable parameters)", flush=True)
    for note in notes:
        print(f"  note: {note}", flush=True)
    return {"meta": {"precision": stats["precision"], "device": "cuda" if on_gpu else "cpu",
                     "world_size": stats["world_size"], "notes": notes}}


def _strip_machine_paths(weights_dir: Path, model_dir: str, model_key: str) -> None:
    """peft writes the local base model's absolute path into adapter_config.json and its model
    card; put the registry key there instead, so outputs do not depend on the checkout's path."""
    if not Path(model_dir).is_absolute():
        return  # a hub id: nothing machine-specific
    for p in sorted(weights_dir.rglob("*")):
        if p.suffix in (".json", ".md") and p.is_file():
            text = p.read_text(encoding="utf-8")
            if model_dir in text:
                records.write_atomic(p, text.replace(model_dir, model_key))


def _evaluate_run(run: Run, manifest: Manifest, out_root: Path, tmp_dir: Path, clock: StageClock,
                  progress: bool, options: dict) -> dict:
    from repro import generate as generation
    from repro import metrics as scoring
    from repro.data import load_split
    from repro.prompts import build_prompts

    from repro import tuning

    cfg = run.config
    _seed_everything(cfg["seed"])
    task = tasks.task_of(cfg["dataset"])
    method = tuning.get(cfg["tuning"]["method"])
    weights = None
    if cfg.get("adapter_from"):
        weights = out_root / cfg["adapter_from"] / "weights"
        if not (weights.parent / records.SUMS_NAME).exists():
            from repro.errors import UserError

            raise UserError(f"the train run '{cfg['adapter_from']}' has not been run yet", run=run.id,
                            field="adapter_from", file=manifest.path,
                            fix=f"run it first: python -m repro run {cfg['adapter_from']} --manifest {manifest.path}")
    with clock.stage("data"):
        test = load_split(cfg["dataset"], cfg["eval_split"])
        if cfg.get("limit"):
            test = test[:cfg["limit"]]
        # Examples come from the training split only for ICL and RAG; some evaluation sets
        # (HumanEval-X) have no training split.
        needs_train = cfg["prompting"]["strategy"] != "zero-shot"
        train_rows = load_split(cfg["dataset"], "train") if needs_train else []
    with clock.stage("prompts"):
        retriever = None
        if cfg["prompting"]["strategy"] == "rag":
            from repro.retrieval import Retriever

            retriever = Retriever.for_training_set(cfg["prompting"]["retriever"], cfg["dataset"],
                                                   [r["intent"] for r in train_rows], progress=progress)
        system_line = cfg["prompting"]["system_line"]
        if system_line is None:
            system_line = method.system_line_by_default
        prompts, chosen = build_prompts(test, train_rows, cfg["prompting"], system_line=system_line,
                                        retriever=retriever)
    from_reference = cfg["generation"]["strategy"] == "reference"
    on_gpu = False
    block_meta = {}
    if from_reference:  # no model: the dataset's own solutions (checks the scoring path itself)
        candidates = [task.reference_solutions(s, cfg["generation"]["num_return_sequences"]) for s in test]
    else:
        with clock.stage("load"):
            spec, method, tokenizer, model, on_gpu, _ = _load(run, progress, weights_from=weights)
        if cfg["generation"].get("block_size"):
            test, prompts, chosen, block_meta = task.drop_over_block_size(test, prompts, chosen, tokenizer, model,
                                                                          cfg["generation"]["block_size"])
        rule = cfg["generation"].get("stop_rule")
        with clock.stage("generate"):
            candidates = generation.generate(model, tokenizer, prompts, cfg["generation"], seq2seq=spec.is_seq2seq,
                                             seed=cfg["seed"], progress=progress,
                                             equal_length_batches=method.equal_length_batches,
                                             stop_rule=tasks.stop_rule(rule) if rule else None)
    with clock.stage("score"):
        ctx = scoring.ScoringContext(candidates, test, cfg, tmp_dir, options, progress)
        scores = scoring.score_all(cfg["metrics"], ctx)
    metrics, per_sample, extra_meta = scores.metrics, scores.per_sample, scores.meta
    rows = [{"index": s["_index"], **task.record_fields(s), "prompt_examples": ex, "candidates": c, **per_sample[i]}
            for i, (s, ex, c) in enumerate(zip(test, chosen, candidates))]
    records.write_jsonl(tmp_dir / "predictions.jsonl", rows)
    metrics.update(block_meta)
    records.write_json(tmp_dir / "metrics.json", metrics)
    return {"meta": {"device": "cuda" if on_gpu else "cpu", "test_samples": len(test),
                     "system_line": system_line, **block_meta, **extra_meta}}

"""Run orchestration: one manifest run from data to a verified run directory.

`run_one(run, manifest, out_root)` loads data, builds prompts, tunes or loads tuned
weights, generates, scores and writes `predictions.jsonl`, `metrics.json`, `run.json` and
`SHA256SUMS` atomically into `<out_root>/<run id>/`. A run whose directory is complete,
verified and made from the same configuration is skipped (resume). `sweep_leftovers`
removes what killed processes left in the output root and the system temp directory;
`set_aside_unlisted` moves files that are not part of a finished run out of its directory.
"""
from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from repro import paths, records, scratch, tasks
from repro.manifest import Manifest, Run
from repro.registry import MODELS

TEST_KILL_ENV = "REPRO_TEST_KILL_AT"
UNLISTED_DIR = ".unlisted"   # under the output root: files found in finished runs that are not part of them
PARTIAL = re.compile(r"\.(?P<run>.+)\.partial")


def _test_kill_point(name: str) -> None:
    """Test hook (tests/test_crash.py): this process kills itself with SIGKILL at the named
    point when REPRO_TEST_KILL_AT names it, for points too short to hit from outside."""
    if os.environ.get(TEST_KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class StageClock:
    """Wall time and peak memory per stage (the stage's own peak: repro.memory), for run.json."""

    def __init__(self):
        self.stages: dict[str, dict] = {}

    @contextmanager
    def stage(self, name: str):
        from repro.memory import stage_peak

        t0 = time.perf_counter()
        with stage_peak() as memory:
            yield
        self.stages[name] = {"seconds": round(time.perf_counter() - t0, 3), **memory}


def _checkpoints(out_root: Path, run: Run) -> Path:
    """Where a train run's Trainer checkpoints live: inside its own partial directory, shared by
    every rank of a distributed launch, kept after a crash so the next attempt resumes."""
    return Path(out_root).resolve() / f".{run.id}.partial" / "checkpoints"


def process_rank() -> int:
    """This process's rank under `accelerate launch` / torchrun (0 when single-process)."""
    from repro import device

    return device.rank()


def why_redo(run: Run, run_dir: Path) -> tuple[str | None, bool]:
    """(reason the run must be (re)made, whether the reason is only staleness); (None, False)
    when its directory is complete, verified, of this configuration and current."""
    from repro import freshness

    meta = run_dir / "run.json"
    if not meta.exists() or not (run_dir / records.SUMS_NAME).exists():
        return ("not run yet" if not run_dir.exists() else "incomplete"), False
    problems = records.verify_sums(run_dir)
    if problems:
        return f"its checksums do not verify ({problems[0]})", False
    try:
        recorded = json.loads(meta.read_text())
    except json.JSONDecodeError:
        return "its run.json is unreadable", False
    if recorded.get("config_hash") != run.config_hash():
        return "its configuration changed", False
    reason = freshness.stale_reason(run, recorded.get("freshness"), run_dir.parent, _inputs(run))
    return (f"stale: {reason}", True) if reason else (None, False)


def is_complete(run: Run, run_dir: Path, keep_stale: bool = False) -> bool:
    """Outputs present, checksums verified, made from this exact configuration by the current
    code from the current inputs (`keep_stale`: a stale but otherwise complete run counts)."""
    reason, only_stale = why_redo(run, run_dir)
    return reason is None or (keep_stale and only_stale)


def unexpected_files(run_dir: Path) -> list[Path]:
    """Files in a finished run directory that its SHA256SUMS does not list (not part of the result)."""
    sums = records.parse_sums((run_dir / records.SUMS_NAME).read_text())
    return [run_dir / rel for rel in records.list_files(run_dir) if str(rel) not in sums]


def set_aside_unlisted(out_root: Path, run_dir: Path) -> list[tuple[Path, Path]]:
    """Move the files of a finished run directory that its SHA256SUMS does not list into
    `<out_root>/.unlisted/<run id>/` (same relative path), so the run verifies again and the
    files are kept; returns (from, to) per file. Directories left empty are removed."""
    moved = []
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for path in unexpected_files(run_dir):
        rel = path.relative_to(run_dir)
        target = paths.inside(out_root, out_root / UNLISTED_DIR / run_dir.name / rel)
        if target.exists() or target.is_symlink():
            target = target.with_name(f"{target.name}.{stamp}")
        target.parent.mkdir(parents=True, exist_ok=True)
        paths.inside(out_root, path.parent)  # never follow a link out of the root
        path.rename(target)
        moved.append((path, target))
        for parent in path.parents:
            if parent == run_dir:
                break
            try:
                parent.rmdir()   # only if empty
            except OSError:
                break
    return moved


def _identity(run: Run) -> dict:
    """What a partial directory's marker records: which run, made how (resume only into the same)."""
    from repro import freshness

    return {"run_id": run.id, "config_hash": run.config_hash(), "code": freshness.code_fingerprint(run.kind)}


def sweep_leftovers(out_root: Path, manifest: Manifest) -> list[str]:
    """Remove what killed processes left behind; return one line per thing removed or kept.

    In the output root: `.<run>.partial` directories the package made whose run no process
    works on (its lock is free), except a train run's checkpoints that this manifest's run
    resumes from (or that belong to a run this manifest does not know); hidden temp files and
    directories (`repro.scratch`) of dead owners. In the system temp directory: the
    package's `repro-*` scratch directories of dead owners (e.g. killed sandboxes)."""
    from filelock import FileLock, Timeout

    out_root = Path(out_root)
    said = []
    known = {r.id: r for r in manifest.runs}
    if out_root.is_dir():
        for entry in sorted(out_root.iterdir()):
            match = PARTIAL.fullmatch(entry.name)
            if not match or entry.is_symlink() or not entry.is_dir() or not paths.is_made_by_package(entry):
                continue
            run_id = match["run"]
            if paths.check_run_id(run_id):
                continue
            lock = FileLock(str(paths.inside(out_root, out_root / f".{run_id}.lock")))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue  # a live process works on it
            try:
                run = known.get(run_id)
                has_checkpoints = (entry / "checkpoints").is_dir()
                if has_checkpoints and (run is None or (run.kind == "train" and paths.marker_says(entry) == _identity(run))):
                    said.append(f"kept {entry.name}/checkpoints: the interrupted training of {run_id} resumes from it")
                    continue
                paths.remove_made_dir(out_root, entry)
                said.append(f"removed {entry.name}: the unfinished attempt of a process that is gone")
            finally:
                lock.release()
        said += [f"removed {p}: a temporary file of a process that is gone" for p in scratch.sweep_tree(out_root)]
    said += [f"removed {p}: scratch space of a process that is gone" for p in scratch.sweep_temp()]
    return said


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
    (`sandbox`: auto | docker | bubblewrap | unsafe-subprocess, `allow_unsafe`).

    One process at a time works on a run (a file lock beside it); another waits, then finds
    it complete. Every directory made, renamed or deleted is checked to lie under `out_root`."""
    from filelock import FileLock, Timeout

    out_root = Path(out_root)
    run_dir = paths.inside(out_root, out_root / run.id)
    if not force and is_complete(run, run_dir):
        return run_dir
    rank = process_rank()
    if rank > 0:  # under `accelerate launch`: every rank trains, only rank 0 writes the run
        if run.kind != "train":
            return run_dir
        rank_dir = scratch.temp_dir(f"rank{rank}")
        try:
            _train_run(run, rank_dir, StageClock(), progress=False, checkpoint_dir=_checkpoints(out_root, run))
        finally:
            shutil.rmtree(rank_dir, ignore_errors=True)
        return run_dir
    out_root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(paths.inside(out_root, out_root / f".{run.id}.lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"  waiting: another process is working on {run.id} (lock {lock.lock_file})", flush=True)
        lock.acquire()
    try:
        if is_complete(run, run_dir) and not force:
            return run_dir  # the other process finished it
        return _make_run(run, manifest, out_root, run_dir, progress, options or {})
    finally:
        lock.release()


def _make_run(run: Run, manifest: Manifest, out_root: Path, run_dir: Path, progress: bool, options: dict) -> Path:
    from repro import freshness

    tmp_dir = run_dir.with_name(f".{run.id}.partial")
    identity = _identity(run)
    resumable = run.kind == "train" and paths.marker_says(tmp_dir) == identity
    paths.remove_made_dir(out_root, run_dir)  # an incomplete or stale attempt: start clean
    if resumable:  # keep the Trainer checkpoints of the interrupted attempt, nothing else
        print(f"  resuming the interrupted attempt in {tmp_dir}", flush=True)
        for p in tmp_dir.iterdir():
            if p.name not in (paths.MARKER, "checkpoints"):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    else:
        paths.remove_made_dir(out_root, tmp_dir)
        paths.make_dir(out_root, tmp_dir, identity)
    clock = StageClock()
    t0 = time.perf_counter()
    cfg = run.config
    pinned = _inputs(run)
    if run.kind == "train":
        result = _train_run(run, tmp_dir, clock, progress, checkpoint_dir=_checkpoints(out_root, run))
    else:
        result = _evaluate_run(run, manifest, out_root, tmp_dir, clock, progress, options)
    meta = {"run_id": run.id, "manifest": manifest.path, "study": manifest.study, "config": cfg,
            "config_hash": run.config_hash(), "seed": cfg["seed"], "stages": clock.stages,
            "wall_seconds": round(time.perf_counter() - t0, 3), "peak_rss_mb": peak_rss_mb(),
            "command": sys.argv, "provenance": _provenance(run), "inputs": pinned,
            "freshness": freshness.identity(run, out_root, pinned, result.get("embeddings")),
            **result.get("meta", {})}
    records.write_json(tmp_dir / "run.json", meta)
    shutil.rmtree(tmp_dir / "checkpoints", ignore_errors=True)  # the run is complete: nothing resumes from them
    records.write_sums(tmp_dir)
    paths.rename_into_place(out_root, tmp_dir, run_dir)
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
    model = modeling.load_model(spec, path, method.load_kwargs(_with_compute_dtype(run, on_gpu), on_gpu),
                                dtype=precision_plan(run, on_gpu).weights)
    if for_training:
        model = method.wrap(model, spec, run.config["tuning"], tokenizer, path)
    elif weights_from is not None:
        model = method.load_trained(model, weights_from, spec)
    return spec, method, tokenizer, model, on_gpu, path


def precision_plan(run: Run, on_gpu: bool):
    """The run's precision on this machine (repro.precision): weights dtype, Trainer flags, QLoRA compute."""
    from repro.precision import plan

    tuning = run.config["tuning"]
    return plan(tuning["precision"], tuning["method"], on_gpu, registry_dtype=MODELS[run.config["model"]].dtype)


def _with_compute_dtype(run: Run, on_gpu: bool) -> dict:
    """The tuning settings, with QLoRA's compute dtype from the precision policy when it names a code version."""
    tuning = run.config["tuning"]
    if tuning["precision"] not in ("paper-era", "tosem"):
        return tuning
    return {**tuning, "quantization": {**tuning["quantization"], "compute_dtype": precision_plan(run, on_gpu).qlora_compute}}


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
    from repro import memory
    from repro import train as training
    from repro.data import load_split

    cfg = run.config
    _seed_everything(cfg["seed"])
    from repro.prompts import training_pairs

    task = tasks.task_of(cfg["dataset"])
    template, version = cfg["prompting"]["template"], cfg.get("code_version")
    seq2seq = MODELS[cfg["model"]].is_seq2seq
    rng = random.Random(cfg["seed"])  # solutions drawn per problem: one sequence over train, then validation
    with clock.stage("data"):
        train_rows = training_pairs(load_split(cfg["dataset"], "train"), template, version, seq2seq=seq2seq, rng=rng)
        val_rows = training_pairs(load_split(cfg["dataset"], "validation"), template, version, seq2seq=seq2seq, rng=rng)
    if any("solution_index" in r for r in train_rows):  # which solution each problem trained on
        records.write_jsonl(tmp_dir / "training_solutions.jsonl",
                            [{"split": name, "problem_id": r["problem_id"], "solution_index": r["solution_index"]}
                             for name, rows in (("train", train_rows), ("validation", val_rows)) for r in rows])
    with clock.stage("load"):
        spec, method, tokenizer, model, on_gpu, model_dir = _load(run, progress, for_training=True)
    dropped = {}
    if cfg["tuning"].get("over_length") == "drop":  # drop, not truncate (the unit-test study)
        train_rows, val_rows, dropped = task.drop_over_length(train_rows, val_rows, tokenizer, model,
                                                              cfg["tuning"]["max_length"])
    cut = {}
    for split, rows in (("train", train_rows), ("validation", val_rows)):
        cut.update(training.count_cut_targets(tokenizer, rows, spec.is_seq2seq, cfg["tuning"]["max_length"], split))
    params = _trainable(model)
    with clock.stage("train"):
        stats = training.train(model, tokenizer, train_rows, val_rows, cfg["tuning"], seq2seq=spec.is_seq2seq,
                               seed=cfg["seed"], on_gpu=on_gpu, progress=progress,
                               checkpoint_dir=str(checkpoint_dir) if checkpoint_dir else None)
    with clock.stage("save"):
        method.save(model, tokenizer, tmp_dir / "weights")
        _test_kill_point("saving-weights")
        _strip_machine_paths(tmp_dir / "weights", str(model_dir), spec.key)
    metrics = {**params, **dropped, **cut, **{k: v for k, v in stats.items() if k not in ("precision", "world_size")}}
    records.write_json(tmp_dir / "metrics.json", metrics)
    train_stage = clock.stages["train"]
    records.write_json(tmp_dir / "resources.json", {
        "peak_memory_gb": round(train_stage.get("peak_gpu_allocated_gb", train_stage["peak_rss_mb"] / 1024), 3),
        "peak_memory_kind": memory.GPU_KIND if on_gpu else memory.CPU_KIND,
        "train_seconds": train_stage["seconds"]})
    notes = [f"precision: {stats['precision']}"] + method.notes(cfg["tuning"], on_gpu)
    for split, total in (("train", len(train_rows)), ("validation", len(val_rows))):
        if cut[f"{split}_truncated_targets"] or cut[f"{split}_empty_targets"]:
            notes.append(f"{split}: max_length {cfg['tuning']['max_length']} cut the target of "
                         f"{cut[f'{split}_truncated_targets'] + cut[f'{split}_empty_targets']} of {total} pairs "
                         f"({cut[f'{split}_empty_targets']} with no target token left); "
                         "`tuning.over_length: drop` drops them instead")
    print(f"  {run.id}: eval loss {stats['initial_eval_loss']} -> {stats['best_eval_loss']} "
          f"({stats['global_steps']} steps, {params['trainable_parameters']:,} trainable parameters)", flush=True)
    for note in notes:
        print(f"  note: {note}", flush=True)
    return {"meta": {"precision": stats["precision"], "precision_plan": precision_plan(run, on_gpu).record(),
                     "device": "cuda" if on_gpu else "cpu",
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
        retriever, embeddings = None, None
        if cfg["prompting"]["strategy"] == "rag":
            from repro.retrieval import Retriever

            retriever = Retriever.for_training_set(cfg["prompting"]["retriever"], cfg["dataset"],
                                                   [r["intent"] for r in train_rows], progress=progress)
            embeddings = {"cache": str(retriever.cache), "sha256": retriever.array_sha256}
        system_line = cfg["prompting"]["system_line"]
        if system_line is None:  # the method's default, if the code version has an instruction line
            from repro.code_versions import setting

            version = cfg.get("code_version")
            system_line = method.system_line_by_default and (version is None or bool(setting(version, "system_line")))
        prompts, chosen = build_prompts(test, train_rows, cfg["prompting"], system_line=system_line,
                                        retriever=retriever, code_version=cfg.get("code_version"),
                                        tuned=cfg["tuning"]["method"] != "none",
                                        seq2seq=MODELS[cfg["model"]].is_seq2seq)
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
    return {"embeddings": embeddings, "meta": {"device": "cuda" if on_gpu else "cpu", "test_samples": len(test),
                     "system_line": system_line, **block_meta, **extra_meta}}

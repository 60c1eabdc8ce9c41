"""Command line: `python -m repro {list,run,reproduce,verify,report,models,datasets}` (and the
subcommands of COMMAND_MODULES: plan, lock, submit, status, arch-check, measure).

Heavy libraries (torch, transformers) are imported only by the commands that run models,
so `list`, `verify` and `report` start fast and work in a minimal environment.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from repro.errors import UserError, VerificationError
from repro.lock import refuse_unpinned

DEFAULT_RESULTS = "results"
# Modules that add their own subcommands: each defines `register(subparsers)`.
COMMAND_MODULES: list[str] = ["repro.plan", "repro.lock", "repro.launch", "repro.status", "repro.arch", "repro.measure"]


def _manifest(args):
    from repro.manifest import load_manifest

    return load_manifest(args.manifest, code_version=getattr(args, "code_version", None))


def _out_dir(args, manifest) -> Path:
    version = getattr(args, "code_version", None)  # the other code version's results stay apart
    out = Path(args.out) if args.out else \
        Path(DEFAULT_RESULTS) / (Path(manifest.path).stem + (f".code-{version}" if version else ""))
    if out.exists() and not out.is_dir():
        raise UserError("the output directory is an existing file", file=str(out), field="--out",
                        fix="pass a directory path (it is created if missing)")
    return out


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (argparse prints the message and exits 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def cmd_list(args) -> int:
    from tabulate import tabulate

    m = _manifest(args)
    runs = m.select(args.only, args.rq)
    rows = [[r.id, r.rq, r.kind, r.config["model"], r.config["dataset"], _prompting(r.config),
             r.config["tuning"]["method"], r.config.get("code_version") or "-", len(r.reference)] for r in runs]
    if not args.quiet:
        print(tabulate(rows, headers=["run", "rq", "kind", "model", "dataset", "prompting", "tuning", "code",
                                      "refs"]))
        print()
    counts = Counter(r.rq for r in runs)
    print(tabulate(sorted(counts.items()) + [["total", len(runs)]], headers=["rq", "runs"]))
    return 0


def _prompting(cfg) -> str:
    p = cfg["prompting"]
    if p["strategy"] == "zero-shot":
        return "zero-shot"
    return f"{p['strategy']} n={p['n']}" + (f" seed={p['seed']}" if p["strategy"] == "icl" else "")


def _setup_runtime(args) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    if args.quiet:  # progress bars and library chatter off; the package's own lines stay
        import warnings

        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        warnings.filterwarnings("ignore", category=FutureWarning)
    if not torch.cuda.is_available():
        torch.set_num_threads(args.threads)
        try:
            torch.use_deterministic_algorithms(True, warn_only=True)
        except Exception:  # pragma: no cover - older torch
            pass


def _run_many(args, manifest, runs) -> Path:
    from tqdm.auto import tqdm

    from repro.pipeline import process_rank, run_one, set_aside_unlisted, sweep_leftovers, why_redo

    out = _out_dir(args, manifest)
    _setup_runtime(args)
    if process_rank() == 0:  # leftovers of killed processes (under `accelerate launch`, rank 0 alone)
        for line in sweep_leftovers(out, manifest):
            print(f"leftovers: {line}", flush=True)
    todo, kept_stale = [], []
    for r in runs:
        reason, only_stale = (("--force", False) if args.force else why_redo(r, out / r.id))
        if reason is None:
            for path, moved_to in (set_aside_unlisted(out, out / r.id) if process_rank() == 0 else []):
                print(f"note: {path} is not part of the run {r.id} (its {r.id}/SHA256SUMS does not list it): "
                      f"moved to {moved_to}; delete it there, or keep it outside the run directory", flush=True)
        elif only_stale and getattr(args, "keep_stale", False):
            kept_stale.append(r.id)
            print(f"keeping {r.id} although {reason} (--keep-stale)", flush=True)
        else:
            todo.append(r)
            if reason not in ("not run yet", "--force"):
                print(f"redo {r.id}: {reason}", flush=True)
    args.kept_stale = kept_stale
    skipped = len(runs) - len(todo)
    print(f"{len(runs)} run(s) -> {out} ({skipped} already complete and verified, {len(todo)} to do)", flush=True)
    for run in tqdm(todo, desc="runs", unit="run", disable=args.quiet or len(todo) < 2):
        print(f"\n== {run.id} ({run.kind}: {run.config['model']}, {run.config['dataset']}, "
              f"{_prompting(run.config)}, tuning={run.config['tuning']['method']})", flush=True)
        run_one(run, manifest, out, progress=not args.quiet, force=args.force,
                options={"sandbox": args.sandbox, "allow_unsafe": args.allow_unsafe})
    return out


def cmd_run(args) -> int:
    m = _manifest(args)
    run = m.get(args.run_id)
    runs = [run]
    src = run.config.get("adapter_from")
    if src:
        runs.insert(0, m.get(src))
    refuse_unpinned(args, runs)
    _run_many(args, m, runs)
    return _compare_and_print(args, m, runs, _out_dir(args, m))


def cmd_reproduce(args) -> int:
    from repro.shard import execution_order, parse_shard, select_shard

    m = _manifest(args)
    runs = m.select(args.only, args.rq)
    refuse_unpinned(args, runs)
    if args.shard:
        i, n = parse_shard(args.shard)
        runs = select_shard(runs, i, n)
        print(f"shard {i}/{n}: {len(runs)} run(s)")
    else:
        runs = execution_order(runs)
    if not runs:
        raise UserError("no run matches the selection", field="--only", fix="check the pattern with `repro list`")
    if args.expect_checksums:  # checked before any work, not after hours of it
        from repro.records import VerificationFormatError, parse_sums

        path = Path(args.expect_checksums)
        try:
            parse_sums(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError, VerificationFormatError) as e:
            raise UserError(f"cannot use the expected checksums: {e}", file=str(path), field="--expect-checksums",
                            fix="pass a file written by `--update-checksums` (e.g. checksums/smoke.sha256)")
    out = _run_many(args, m, runs)
    other_failures = []
    if args.update_checksums:
        from repro.verify import write_expected

        path = write_expected(out, [r.id for r in runs], Path(args.update_checksums))
        print(f"\nwrote {path}")
    elif args.expect_checksums:
        from repro.verify import check_expected

        problems = check_expected(out, [r.id for r in runs], Path(args.expect_checksums))
        if problems:
            print(f"\nOutputs differ from {args.expect_checksums}:")
            for p in problems:
                print(f"  {p}")
            other_failures.append(f"{len(problems)} output file(s) differ from {args.expect_checksums}")
        else:
            print(f"\nOutputs match {args.expect_checksums} ({len(runs)} runs).")
    return _compare_and_print(args, m, runs, out, other_failures)


def _compare_and_print(args, manifest, runs, out, other_failures: list[str] = ()) -> int:
    """The verdicts `repro report` gives (repro.verdicts), for the selected runs; with every
    run selected, the same cells, aggregates, claims and exit code as the report. The final
    verdict line also counts `other_failures` (e.g. outputs that differ from the expected
    checksums), so it never says "all checks pass" when the exit code is not 0."""
    from repro.compare import claims_table, verdict_table
    from repro.verdicts import evaluate

    selection = None if {r.id for r in runs} == {r.id for r in manifest.runs} else runs
    verdicts = evaluate(manifest, out, selection)
    stale = getattr(args, "kept_stale", [])
    if verdicts.references:
        print("\n" + verdict_table(verdicts.references, stale=set(stale)))
    if verdicts.claims:
        print("\n" + claims_table(verdicts.claims))
    failures = len(verdicts.failures) + len(other_failures)
    status = max(verdicts.exit_code, 1 if other_failures else 0)
    if stale:
        print(f"\nstale results kept (--keep-stale), made by older code or from older inputs: {', '.join(stale)}")
    print("\nverdict:", "all checks pass" if status == 0 else f"SOME CHECKS FAIL ({failures})"
          + "".join(f"; {f}" for f in other_failures), "(with stale results kept)" if stale else "")
    return status


def cmd_verify(args) -> int:
    from repro.records import verify_tree
    from repro.verify import check_expected

    root = Path(args.directory)
    if not root.is_dir():
        raise UserError("no such results directory", file=str(root), fix="pass a directory written by `repro reproduce`")
    problems = verify_tree(root)
    if args.against:
        ids = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        problems += check_expected(root, ids, Path(args.against))
    if problems:
        for p in problems:
            print(f"FAILED {p}")
        raise VerificationError(f"{len(problems)} problem(s) in {root}")
    print(f"OK: every checksum under {root} verifies")
    return 0


def cmd_report(args) -> int:
    from repro.report import write_report

    m = _manifest(args)
    out = Path(args.results) if args.results else Path(DEFAULT_RESULTS) / Path(m.path).stem
    return write_report(m, out, Path(args.out) if args.out else out / "report", fmt=args.format)


def cmd_models(args) -> int:
    from tabulate import tabulate

    if args.arch:
        from repro.arch import cmd_models_arch

        return cmd_models_arch()

    from repro.registry import MODELS

    print(tabulate([[m.key, m.hub_id or "(built locally)", m.architecture, ",".join(m.lora_targets),
                     ",".join(m.ia3_targets), m.revision or "unpinned"] for m in MODELS.values()],
                   headers=["key", "hub id", "arch", "LoRA targets", "IA3 targets", "revision"]))
    return 0


def cmd_datasets(args) -> int:
    from tabulate import tabulate

    from repro.registry import DATASETS

    print(tabulate([[d.key, d.hub_id or f"bundled/{d.bundled_dir}", d.task, d.intent_field, d.code_field,
                     d.max_new_tokens, repr(list(d.stop))] for d in DATASETS.values()],
                   headers=["key", "source", "task", "intent", "code", "max new tokens", "stops"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="repro", description="Re-run and check the PEFT-for-code-generation study.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, manifest_required=True):
        sp.add_argument("--manifest", "-m", required=manifest_required, help="manifest file or directory")
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress bars")

    def running(sp):
        sp.add_argument("--out", help="results directory (default results/<manifest name>)")
        sp.add_argument("--force", action="store_true", help="re-run even complete, verified runs")
        sp.add_argument("--keep-stale", action="store_true",
                        help="keep complete runs made by older code or from older inputs instead of redoing them")
        sp.add_argument("--threads", type=positive_int, default=1, help="CPU threads for torch (default 1: deterministic, fastest for tiny models)")
        sp.add_argument("--sandbox", default="auto", choices=["auto", "docker", "bubblewrap", "unsafe-subprocess"],
                        help="where generated programs run (default: Docker if an engine and the image exist, else bubblewrap)")
        sp.add_argument("--allow-unpinned", action="store_true",
                        help="run even with hub inputs that have no pinned revision (sets REPRO_ALLOW_UNPINNED=1)")
        sp.add_argument("--i-accept-running-untrusted-code-unsandboxed", dest="allow_unsafe", action="store_true",
                        help="allow running model-written programs WITHOUT isolation when no sandbox is available")

    def versioned(sp):
        sp.add_argument("--code-version", choices=["paper-era", "tosem"],
                        help="follow this version of the authors' code in every run it can run "
                             "(default: each run's own; results go to results/<manifest>.code-<version>)")

    sp = sub.add_parser("list", help="list the runs of a manifest and count them per RQ")
    common(sp)
    versioned(sp)
    sp.add_argument("--only", help="glob(s) over run ids, comma-separated")
    sp.add_argument("--rq", help="only this research question")
    sp.set_defaults(func=cmd_list)

    sp = sub.add_parser("run", help="run one run (and the train run it needs)")
    sp.add_argument("run_id")
    common(sp)
    running(sp)
    versioned(sp)
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("reproduce", help="run every selected run of a manifest, then compare with the paper")
    common(sp)
    running(sp)
    versioned(sp)
    sp.add_argument("--only", help="glob(s) over run ids, comma-separated")
    sp.add_argument("--rq", help="only this research question")
    sp.add_argument("--shard", help="i/n: run only shard i (0-based) of n")
    sp.add_argument("--expect-checksums", help="file of expected output checksums to compare against")
    sp.add_argument("--update-checksums", metavar="FILE", help="write the outputs' checksums to FILE instead")
    sp.set_defaults(func=cmd_reproduce)

    sp = sub.add_parser("verify", help="recompute every checksum of a results directory")
    sp.add_argument("directory")
    sp.add_argument("--against", help="also compare with a committed checksum file (e.g. checksums/smoke.sha256)")
    sp.set_defaults(func=cmd_verify)

    sp = sub.add_parser("report", help="tables and figures: ours vs the paper, and the headline claims")
    common(sp)
    sp.add_argument("--results", help="results directory (default results/<manifest name>)")
    sp.add_argument("--out", help="where to write the report (default <results>/report)")
    sp.add_argument("--format", choices=["github", "simple"], default="simple")
    sp.set_defaults(func=cmd_report)

    sp = sub.add_parser("models", help="the model registry")
    sp.add_argument("--arch", action="store_true", help="the paper models' published architecture facts and sources")
    sp.set_defaults(func=cmd_models)
    sp = sub.add_parser("datasets", help="the dataset registry")
    sp.set_defaults(func=cmd_datasets)
    from importlib import import_module

    for name in COMMAND_MODULES:
        import_module(name).register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from repro.registry import apply_input_lock

    args = build_parser().parse_args(argv)
    try:
        apply_input_lock()  # hub revisions from checksums/inputs.lock.json
        return args.func(args)
    except UserError as e:
        print(e.render(), file=sys.stderr)
        return e.exit_code
    except VerificationError as e:
        print(f"verification failed: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # e.g. `repro list | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("interrupted: completed runs are kept; re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

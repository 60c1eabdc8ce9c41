"""`python -m repro submit`: run a manifest's shards as a job array with submitit.

Each array task runs `repro reproduce --shard i/n` into one shared results directory (every
run writes only its own `<run id>/` directory, atomically), so the shards' results merge
into one report: `python -m repro report --results <dir>`. `--executor slurm` submits a
SLURM job array; `--executor local` runs the tasks as local processes (for tests and
single machines).
"""
from __future__ import annotations

import sys
from pathlib import Path

from repro.errors import UserError


def shard_argv(manifest: str, index: int, shards: int, out: str, only: str | None = None, rq: str | None = None,
               extra: list[str] | None = None) -> list[str]:
    argv = ["reproduce", "--manifest", manifest, "--shard", f"{index}/{shards}", "--out", out, "--quiet"]
    if only:
        argv += ["--only", only]
    if rq:
        argv += ["--rq", rq]
    return argv + list(extra or [])


def run_shard(argv: list[str]) -> int:
    """The array task: the CLI in-process; exit codes 0 (all pass) and 1 (some check fails) both finish the shard."""
    from repro.cli import main

    code = main(argv)
    if code not in (0, 1):
        raise RuntimeError(f"`repro {' '.join(argv)}` exited with {code}")
    return code


def make_executor(kind: str, folder: Path, *, timeout_min: int, partition: str | None, gpus: int,
                  cpus: int, mem_gb: int, array_parallelism: int):
    import submitit

    if kind == "local":
        executor = submitit.LocalExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=timeout_min)
    elif kind == "slurm":
        executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
        params = dict(timeout_min=timeout_min, gpus_per_node=gpus, cpus_per_task=cpus, mem_gb=mem_gb,
                      slurm_array_parallelism=array_parallelism, name="repro")
        if partition:
            params["slurm_partition"] = partition
        executor.update_parameters(**params)
    else:
        raise UserError(f"unknown executor '{kind}'", field="--executor", expected="slurm or local",
                        fix="pass --executor slurm on a cluster, --executor local otherwise")
    return executor


def submit(manifest: str, shards: int, out: str, executor, *, only=None, rq=None, extra=None, task=run_shard):
    """Submit one task per shard; returns the submitit jobs."""
    if shards < 1:
        raise UserError("need at least one shard", field="--shards", fix="pass --shards 1 or more")
    argvs = [shard_argv(manifest, i, shards, out, only, rq, extra) for i in range(shards)]
    return executor.map_array(task, argvs)


def cmd_submit(args) -> int:
    from repro.manifest import load_manifest

    manifest = load_manifest(args.manifest)  # fail here, not in every task, on a bad manifest
    out = str(Path(args.out or Path("results") / Path(manifest.path).stem).resolve())
    folder = Path(args.log_dir or Path(out) / ".submitit")
    executor = make_executor(args.executor, folder, timeout_min=args.timeout_min, partition=args.partition,
                             gpus=args.gpus, cpus=args.cpus, mem_gb=args.mem_gb, array_parallelism=args.parallel)
    extra = ["--allow-unpinned"] if args.allow_unpinned else []
    jobs = submit(args.manifest, args.shards, out, executor, only=args.only, rq=args.rq, extra=extra)
    print(f"submitted {len(jobs)} shard(s): {', '.join(str(j.job_id) for j in jobs)}; logs in {folder}")
    if not args.wait:
        print(f"when they finish: python -m repro report --manifest {args.manifest} --results {out}")
        return 0
    codes = [job.result() for job in jobs]
    print(f"shards finished with exit codes {codes}")
    from repro.report import write_report

    return max([write_report(manifest, Path(out), Path(out) / "report")] + codes)


def register(subparsers) -> None:
    sp = subparsers.add_parser("submit", help="run the manifest's shards as a SLURM (or local) job array")
    sp.add_argument("--manifest", "-m", required=True)
    sp.add_argument("--shards", type=int, required=True, help="number of array tasks")
    sp.add_argument("--executor", choices=["slurm", "local"], default="slurm")
    sp.add_argument("--out", help="shared results directory (default results/<manifest name>)")
    sp.add_argument("--only", help="glob(s) over run ids, comma-separated")
    sp.add_argument("--rq", help="only this research question")
    sp.add_argument("--wait", action="store_true", help="wait for every shard, then write the merged report")
    sp.add_argument("--log-dir", help="submitit's folder (default <out>/.submitit)")
    sp.add_argument("--timeout-min", type=int, default=24 * 60)
    sp.add_argument("--partition", help="SLURM partition")
    sp.add_argument("--gpus", type=int, default=1, help="GPUs per task (SLURM)")
    sp.add_argument("--cpus", type=int, default=4, help="CPUs per task (SLURM)")
    sp.add_argument("--mem-gb", type=int, default=48, help="host memory per task (SLURM)")
    sp.add_argument("--parallel", type=int, default=16, help="tasks running at once (SLURM array parallelism)")
    sp.add_argument("--allow-unpinned", action="store_true", help="pass --allow-unpinned to every shard")
    sp.set_defaults(func=cmd_submit)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_shard(sys.argv[1:]))

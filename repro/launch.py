"""`python -m repro submit`: run a manifest's shards as job arrays with submitit.

Each array task runs `repro reproduce` on one shard into one shared results directory
(every run writes only its own `<run id>/` directory, atomically), so the shards' results
merge into one report: `python -m repro report --results <dir>`. `--executor slurm` submits
SLURM job arrays; `--executor local` runs the tasks as local processes.

SLURM resources (partition, account, QoS, GPUs or `--gres`, CPUs, memory, time, extra
`sbatch` flags, setup lines) come from the command line over an optional cluster profile
(YAML). With `--group-by-memory`, the profile's `memory_classes` split the runs by the
memory `repro plan` estimates: each class is its own array with its own resources.
`--dry-run` prints the shards and the sbatch scripts and submits nothing. What was
submitted is recorded in `<results>/.submit/submissions.json`; `repro status` reads it and
`--resume` resubmits only the shards that have incomplete runs.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from repro.errors import UserError

DEFAULTS = {"gpus": 1, "cpus": 4, "mem_gb": 48, "timeout_min": 24 * 60, "parallel": 16}
RESOURCE_KEYS = ("partition", "account", "qos", "gres", "gpus", "cpus", "mem_gb", "timeout_min", "parallel",
                 "sbatch_flags", "setup")
PROFILE_KEYS = set(RESOURCE_KEYS) | {"memory_classes"}
CLASS_KEYS = set(RESOURCE_KEYS) | {"name", "gpu_memory_gb"}


@dataclass
class Shard:
    """One array task: a name for people, the runs it owns, its command and its resources."""
    name: str
    runs: list[str]
    argv: list[str]
    resources: dict
    memory_class: str | None = None
    peak_gb: float | None = None
    job: dict = field(default_factory=dict)
    gpu_hours: float | None = None     # `repro plan`'s estimate, shown by --dry-run


# --- the task ------------------------------------------------------------------------------

def shard_argv(manifest: str, index: int, shards: int, out: str, only: str | None = None, rq: str | None = None,
               extra: list[str] | None = None) -> list[str]:
    argv = ["reproduce", "--manifest", manifest, "--shard", f"{index}/{shards}", "--out", out, "--quiet"]
    if only:
        argv += ["--only", only]
    if rq:
        argv += ["--rq", rq]
    return argv + list(extra or [])


def versioned_name(manifest, code_version: str | None) -> str:
    """The default results folder name, as `reproduce` names it (repro.cli._out_dir)."""
    return Path(manifest.path).stem + (f".code-{code_version}" if code_version else "")


def run_shard(argv: list[str]) -> int:
    """The array task: the CLI in-process; exit codes 0 (all pass) and 1 (some check fails) both finish the shard."""
    import signal

    from repro.cli import main

    # `scancel` sends SIGTERM, which submitit ignores (it waits for its own USR2 to requeue):
    # stop now instead, as Ctrl-C does; complete runs are kept, the current one stays partial.
    signal.signal(signal.SIGTERM, _interrupt)
    code = main(argv)
    if code not in (0, 1):
        raise RuntimeError(f"shard stopped: `repro {' '.join(argv)}` exited with {code} (its error is above)")
    return code


def _interrupt(signum, frame):
    raise KeyboardInterrupt


# --- resources -----------------------------------------------------------------------------

def load_profile(path: str | None) -> dict:
    """The cluster profile (YAML), checked key by key; {} without one."""
    if not path:
        return {}
    import yaml

    try:
        profile = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise UserError("no such cluster profile", file=path, fix="pass an existing YAML file to --profile")
    except yaml.YAMLError as e:
        raise UserError(f"not valid YAML: {e}", file=path, fix="see docs/SCALING.md for a profile example")
    if not isinstance(profile, dict):
        raise UserError("a cluster profile is a mapping of resource keys", file=path,
                        expected=f"keys among {sorted(PROFILE_KEYS)}", fix="see docs/SCALING.md")
    _check_keys(profile, PROFILE_KEYS, path, "")
    classes = profile.get("memory_classes") or []
    if not isinstance(classes, list):
        raise UserError("memory_classes must be a list", file=path, field="memory_classes",
                        fix="list entries like {name: small, gpu_memory_gb: 24, gres: 'gpu:1'}")
    for k, c in enumerate(classes):
        where = f"memory_classes[{k}]"
        if not isinstance(c, dict):
            raise UserError("a memory class is a mapping", file=path, field=where,
                            fix="e.g. {name: small, gpu_memory_gb: 24}")
        _check_keys(c, CLASS_KEYS, path, where + ".")
        if not isinstance(c.get("name"), str) or not isinstance(c.get("gpu_memory_gb"), (int, float)):
            raise UserError("a memory class needs a name and a number gpu_memory_gb", file=path, field=where,
                            fix="e.g. {name: small, gpu_memory_gb: 24}")
    return profile


def _check_keys(mapping: dict, allowed: set, path: str, prefix: str) -> None:
    for key, value in mapping.items():
        if key not in allowed:
            raise UserError(f"unknown key '{key}'", file=path, field=prefix + str(key),
                            expected=f"one of {sorted(allowed)}", fix="remove it or correct its spelling")
        if key in ("sbatch_flags", "setup") and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise UserError(f"'{key}' must be a list of strings", file=path, field=prefix + key,
                            fix="e.g. [\"--constraint=a100\"]" if key == "sbatch_flags" else "e.g. [\"module load cuda\"]")
        if key in ("gpus", "cpus", "timeout_min", "parallel") and not (isinstance(value, int) and value >= 0):
            raise UserError(f"'{key}' must be a whole number >= 0", file=path, field=prefix + key,
                            fix=f"e.g. {key}: {DEFAULTS[key]}")
        if key == "mem_gb" and not (isinstance(value, (int, float)) and value > 0):
            raise UserError("'mem_gb' must be a positive number", file=path, field=prefix + key, fix="e.g. mem_gb: 48")


def cli_resources(args) -> dict:
    """The resource options given on the command line (the rest are None)."""
    return {k: v for k, v in {
        "partition": args.partition, "account": args.account, "qos": args.qos, "gres": args.gres,
        "gpus": args.gpus, "cpus": args.cpus, "mem_gb": args.mem_gb, "timeout_min": args.timeout_min,
        "parallel": args.parallel, "sbatch_flags": args.sbatch_flag or None}.items() if v is not None}


def merge_resources(*layers: dict) -> dict:
    """Defaults first, later layers win; lists (extra sbatch flags, setup lines) add up."""
    out = dict(DEFAULTS)
    for layer in layers:
        for key, value in layer.items():
            if key in ("sbatch_flags", "setup") and value:
                out[key] = list(dict.fromkeys(list(out.get(key) or []) + list(value)))
            elif key in RESOURCE_KEYS and value is not None:
                out[key] = value
    return out


def parse_sbatch_flag(flag: str) -> tuple[str, object]:
    """'--constraint=a100' or 'constraint=a100' -> ('constraint', 'a100'); '--exclusive' -> ('exclusive', True)."""
    key, sep, value = flag.lstrip("-").partition("=")
    if not key or " " in key:
        raise UserError(f"bad sbatch flag '{flag}'", field="--sbatch-flag / sbatch_flags",
                        expected="--name=value or --name", fix="e.g. --sbatch-flag=--constraint=a100")
    return key.replace("-", "_"), (value if sep else True)


def slurm_parameters(res: dict, job_name: str) -> dict:
    """submitit SlurmExecutor parameters for one array."""
    params = {"job_name": job_name, "time": int(res["timeout_min"]), "cpus_per_task": int(res["cpus"]),
              "mem": _mem(res["mem_gb"]), "array_parallelism": int(res["parallel"])}
    if res.get("gres"):
        params["gres"] = res["gres"]
    elif res.get("gpus"):
        params["gpus_per_node"] = int(res["gpus"])
    for key in ("partition", "account", "qos"):
        if res.get(key):
            params[key] = res[key]
    if res.get("setup"):
        params["setup"] = list(res["setup"])
    extra = dict(parse_sbatch_flag(f) for f in res.get("sbatch_flags") or [])
    if extra:
        params["additional_parameters"] = {k.replace("_", "-"): v for k, v in extra.items()}
    return params


def _mem(mem_gb: float) -> str:
    return f"{int(mem_gb)}GB" if float(mem_gb).is_integer() else f"{int(mem_gb * 1024)}MB"


# --- shards --------------------------------------------------------------------------------

def plan_shards(manifest, runs, shards: int, out: str, resources: dict, *, only=None, rq=None, extra=None,
                classes: list[dict] | None = None) -> list[Shard]:
    """Shards partition `runs`; a train run and its evaluations always share a shard (train first)."""
    from repro.shard import groups, partition

    if shards < 1:
        raise UserError("need at least one shard", field="--shards", fix="pass --shards 1 or more")
    n_groups = len(groups(runs))
    if shards > n_groups:
        raise UserError(f"{shards} shards for {n_groups} independent group(s) of runs: some shards would be empty",
                        field="--shards", fix=f"pass --shards {n_groups} or fewer")
    path = str(Path(manifest.path).resolve())
    if not classes:
        out_shards = [Shard(f"{i}/{shards}", [r.id for r in mine], shard_argv(path, i, shards, out, only, rq, extra),
                            dict(resources))
                      for i, mine in enumerate(partition(runs, shards))]
        return _with_hours(out_shards, runs)
    out_shards = []
    by_class = memory_classes_of(runs, classes)
    total = sum(len(v) for v in by_class.values())
    for c in sorted(classes, key=lambda c: c["gpu_memory_gb"]):
        members = by_class.get(c["name"], [])
        if not members:
            continue
        k = min(len(groups(members)), max(1, round(shards * len(members) / total)))
        res = merge_resources(resources, {kk: v for kk, v in c.items() if kk in RESOURCE_KEYS})
        for i, mine in enumerate(partition(members, k)):
            ids = [r.id for r in mine]
            argv = ["reproduce", "--manifest", path, "--only", ",".join(ids), "--out", out, "--quiet"]
            peak = max(_peak_gb(r, c["gpu_memory_gb"]) for r in members if r.id in ids)
            out_shards.append(Shard(f"{c['name']} {i}/{k}", ids, argv + list(extra or []), res, c["name"], peak))
    return _with_hours(out_shards, runs)


def _with_hours(shards: list[Shard], runs) -> list[Shard]:
    """Each shard's estimated GPU-hours (`repro plan`, 24 GB GPU; None when the plan cannot cost
    one of its runs), for the dry run's table."""
    import math

    from repro.shard import run_hours

    hours = {r.id: run_hours(r) for r in runs}
    for s in shards:
        total = sum(hours[rid] for rid in s.runs)
        s.gpu_hours = total if math.isfinite(total) else None
    return shards


def _peak_gb(run, gpu_memory_gb: float) -> float:
    from repro.plan import estimate

    return estimate(run, gpu_memory_gb).memory_gb


def memory_classes_of(runs, classes: list[dict]) -> dict[str, list]:
    """Each group of runs (a train run and its evaluations) goes to the smallest class whose GPU
    holds every run of the group by `repro plan`'s estimate; groups no class holds go to the largest."""
    from repro.plan import estimate
    from repro.shard import groups

    ordered = sorted(classes, key=lambda c: c["gpu_memory_gb"])
    out: dict[str, list] = {}
    for group in groups(runs):
        home = next((c for c in ordered if all(estimate(r, c["gpu_memory_gb"]).fits != "NO" for r in group)),
                    ordered[-1])
        out.setdefault(home["name"], []).extend(group)
    return out


# --- submission ----------------------------------------------------------------------------

def make_executor(kind: str, folder: Path, params: dict | None = None):
    import submitit

    if kind == "local":
        executor = submitit.LocalExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=(params or {}).get("time", DEFAULTS["timeout_min"]))
    elif kind == "slurm":
        import shutil

        if shutil.which("sbatch") is None:
            raise UserError("no SLURM here: `sbatch` is not on PATH", field="--executor",
                            fix="run on a SLURM login node, start the single-node cluster with `make slurm-up`, "
                                "or pass --executor local")
        executor = submitit.SlurmExecutor(folder=str(folder))
        executor.update_parameters(**(params or {}))
    else:
        raise UserError(f"unknown executor '{kind}'", field="--executor", expected="slurm or local",
                        fix="pass --executor slurm on a cluster, --executor local otherwise")
    return executor


def sbatch_script(params: dict, folder: Path, tasks: int) -> str:
    """The sbatch file submitit writes for an array of `tasks` (submitit's own function)."""
    import shlex

    from submitit.slurm.slurm import _make_sbatch_string  # submitit's writer, so the preview is exact

    command = " ".join([shlex.quote(sys.executable), "-u -m submitit.core._submit", shlex.quote(str(folder))])
    return _make_sbatch_string(command=command, folder=folder, map_count=tasks, **params)


def submit_shards(shards: list[Shard], executor_kind: str, folder: Path, job_name: str, task=run_shard,
                  executor_factory=make_executor) -> list[Shard]:
    """One array per distinct set of resources; fills each shard's `job`."""
    arrays: dict[str, list[Shard]] = {}
    for s in shards:
        arrays.setdefault(repr(sorted(s.resources.items())), []).append(s)
    for members in arrays.values():
        name = job_name + (f"-{members[0].memory_class}" if members[0].memory_class else "")
        executor = executor_factory(executor_kind, folder, slurm_parameters(members[0].resources, name))
        jobs = executor.map_array(task, [s.argv for s in members])
        for s, job in zip(members, jobs):
            s.job = {"job_id": str(job.job_id), "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr),
                     "result": str(job.paths.result_pickle)}
    return shards


def cmd_submit(args) -> int:
    from repro import status as tracking
    from repro.manifest import load_manifest

    # Fail here, not in every task, on a bad manifest; with --code-version every shard follows
    # that version and the results go where `reproduce --code-version` puts them.
    manifest = load_manifest(args.manifest, code_version=args.code_version)
    out = Path(args.out or Path("results") / versioned_name(manifest, args.code_version)).resolve()
    folder = Path(args.log_dir).resolve() if args.log_dir else out / ".submitit"
    profile = load_profile(args.profile)
    given = cli_resources(args)
    job_name = f"repro-{Path(manifest.path).stem}"
    record = tracking.read_record(out)
    if args.resume:
        if record is None:
            raise UserError("nothing to resume: no submission recorded here", file=str(tracking.record_path(out)),
                            fix="submit first: python -m repro submit -m MANIFEST --shards N")
        shards = tracking.shards_to_resume(manifest, out, record)
        for s in shards:
            s.resources = merge_resources(s.resources, given)  # e.g. more memory after an out-of-memory
        if not shards:
            print("nothing to resume: every shard is complete, running or queued")
            return 0
    else:
        if args.shards is None:
            raise UserError("how many shards?", field="--shards", fix="pass --shards N (or --resume)")
        if record is not None and not args.dry_run:
            busy = tracking.active_shards(record)
            if busy:
                raise UserError(f"shard(s) {', '.join(busy)} of an earlier submission are still queued or running",
                                file=str(tracking.record_path(out)),
                                fix="wait for them (python -m repro status), cancel them (scancel), or add --resume")
        classes = None
        if args.group_by_memory:
            classes = profile.get("memory_classes")
            if not classes:
                raise UserError("--group-by-memory needs memory classes", file=args.profile or "(no --profile)",
                                field="memory_classes", fix="add memory_classes to a cluster profile (docs/SCALING.md)")
        runs = manifest.select(args.only, args.rq)
        if not runs:
            raise UserError("no run matches the selection", field="--only", fix="check the pattern with `repro list`")
        extra = ["--allow-unpinned"] if args.allow_unpinned else []
        if args.code_version:
            extra += ["--code-version", args.code_version]
        shards = plan_shards(manifest, runs, args.shards, str(out), merge_resources(profile, given),
                             only=args.only, rq=args.rq, extra=extra, classes=classes)
    if args.dry_run:
        print_plan(shards, args.executor, folder, job_name)
        return 0
    submit_shards(shards, args.executor, folder, job_name)
    record = tracking.add_attempt(record, manifest, out, args.executor, shards, resume=args.resume)
    tracking.write_record(out, record)
    arrays = sorted({s.job["job_id"].split("_")[0] for s in shards})
    print(f"submitted {len(shards)} shard(s) as job array(s) {', '.join(arrays)}; logs in {folder}")
    print(f"watch: python -m repro status -m {args.manifest} --results {out}")
    if not args.wait:
        print(f"when they finish: python -m repro report --manifest {args.manifest} --results {out}")
        return 0
    while tracking.active_shards(tracking.read_record(out)):
        time.sleep(args.poll_seconds)
    code = tracking.print_status(manifest, out, quiet=True)
    from repro.report import write_report

    return max(write_report(manifest, out, out / "report"), code)


def print_plan(shards: list[Shard], executor_kind: str, folder: Path, job_name: str) -> None:
    from tabulate import tabulate

    rows = [[s.name, len(s.runs), s.memory_class or "-", "-" if s.peak_gb is None else f"{s.peak_gb:.1f}",
             "-" if s.gpu_hours is None else f"{s.gpu_hours:.1f}" if s.gpu_hours >= 0.1 else f"{s.gpu_hours:.2g}",
             s.resources.get("gres") or s.resources.get("gpus"), s.resources["mem_gb"], s.resources["timeout_min"]]
            for s in shards]
    print(tabulate(rows, headers=["shard", "runs", "memory class", "peak GB (est.)", "GPU-h (est.)", "GPUs", "mem GB",
                                  "time (min)"],
                   disable_numparse=True, colalign=("left", "right", "left", "right", "right", "right", "right", "right")))
    if any(s.gpu_hours is not None for s in shards):
        print("GPU-h (est.): `repro plan`'s hours on an RTX A5000-class GPU (the cost shards are balanced by)")
    if shards:
        print(f"\nshard {shards[0].name} runs: python -m repro {' '.join(shards[0].argv)}")
    if executor_kind != "slurm":
        print(f"\n{executor_kind} executor: tasks run as local processes (no sbatch)")
        return
    arrays: dict[str, list[Shard]] = {}
    for s in shards:
        arrays.setdefault(repr(sorted(s.resources.items())), []).append(s)
    for members in arrays.values():
        name = job_name + (f"-{members[0].memory_class}" if members[0].memory_class else "")
        print(f"\n# sbatch file for shards {', '.join(s.name for s in members)} (dry run: nothing submitted)")
        print(sbatch_script(slurm_parameters(members[0].resources, name), folder, len(members)))


def register(subparsers) -> None:
    sp = subparsers.add_parser("submit", help="run the manifest's shards as a SLURM (or local) job array")
    sp.add_argument("--manifest", "-m", required=True)
    sp.add_argument("--shards", type=int, help="number of array tasks (with --group-by-memory: in total)")
    sp.add_argument("--executor", choices=["slurm", "local"], default="slurm")
    sp.add_argument("--out", help="shared results directory (default results/<manifest name>)")
    sp.add_argument("--only", help="glob(s) over run ids, comma-separated")
    sp.add_argument("--rq", help="only this research question")
    sp.add_argument("--resume", action="store_true",
                    help="resubmit only the recorded shards that have incomplete runs and are not queued or running")
    sp.add_argument("--dry-run", action="store_true", help="print the shards and sbatch files; submit nothing")
    sp.add_argument("--wait", action="store_true", help="wait for every shard, then write the merged report")
    sp.add_argument("--poll-seconds", type=float, default=30.0, help="with --wait: seconds between checks")
    sp.add_argument("--log-dir", help="submitit's folder (default <out>/.submitit)")
    sp.add_argument("--profile", help="cluster profile (YAML): resources and memory classes (docs/SCALING.md)")
    sp.add_argument("--group-by-memory", action="store_true",
                    help="one array per memory class of the profile, by `repro plan`'s estimates")
    res = sp.add_argument_group("SLURM resources (override the profile; defaults "
                                + ", ".join(f"{k}={v}" for k, v in DEFAULTS.items()) + ")")
    res.add_argument("--partition")
    res.add_argument("--account")
    res.add_argument("--qos")
    res.add_argument("--gres", help="generic resources, e.g. gpu:a100:1 (instead of --gpus)")
    res.add_argument("--gpus", type=int, help="GPUs per task")
    res.add_argument("--cpus", type=int, help="CPUs per task")
    res.add_argument("--mem-gb", type=float, help="host memory per task")
    res.add_argument("--timeout-min", type=int, help="time limit per task, minutes")
    res.add_argument("--parallel", type=int, help="tasks running at once (array parallelism)")
    res.add_argument("--sbatch-flag", action="append", metavar="FLAG",
                     help="extra sbatch flag, repeatable, e.g. --sbatch-flag=--constraint=a100")
    sp.add_argument("--allow-unpinned", action="store_true", help="pass --allow-unpinned to every shard")
    sp.add_argument("--code-version", choices=["paper-era", "tosem"],
                    help="every shard follows this version of the authors' code (as `reproduce --code-version`; "
                         "results default to results/<manifest>.code-<version>)")
    sp.set_defaults(func=cmd_submit)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_shard(sys.argv[1:]))

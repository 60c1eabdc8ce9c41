"""`python -m repro status`: per shard and per run, done / running / failed / not started.

Owns the submission record `<results>/.submit/submissions.json` that `repro submit` writes
(each shard's runs, command, resources and, per attempt, the scheduler's job id and log
paths). A run's state comes from the results directory (complete and verified, a
`.partial` directory in progress, or nothing); a shard's from the scheduler (`sacct`,
else `squeue`, which a cluster without accounting still answers) or, for the local
executor, from submitit's result file. Failed shards show their log and the error it ends with.
"""
from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

RECORD = Path(".submit") / "submissions.json"
ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED", "REQUEUE_HOLD",
          "REQUEUE_FED", "SIGNALING", "STAGE_OUT"}
UNREACHABLE = "NO ANSWER"  # the scheduler could not be asked (no sacct/squeue here, or it is down)
QUEUED = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SUSPENDED"}


# --- the record ----------------------------------------------------------------------------

def record_path(out: Path) -> Path:
    return Path(out) / RECORD


def read_record(out: Path) -> dict | None:
    import json

    path = record_path(out)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        from repro.errors import UserError

        raise UserError(f"not valid JSON: {e}", file=str(path), fix="delete it and submit again (complete runs are kept)")


def write_record(out: Path, record: dict) -> Path:
    from repro import records

    return records.write_json(record_path(out), record)


def add_attempt(record: dict | None, manifest, out: Path, executor: str, shards, resume: bool) -> dict:
    """A fresh submission replaces the shard plan; a resume adds an attempt for some shards."""
    if record is None or not resume:
        record = {"record_version": 1, "manifest": str(Path(manifest.path).resolve()), "out": str(out),
                  "executor": executor, "shards": {}, "attempts": []}
    for s in shards:
        record["shards"][s.name] = {"runs": s.runs, "argv": s.argv, "resources": s.resources,
                                    "memory_class": s.memory_class}
    record["attempts"].append({"submitted": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "resume": resume, "executor": executor,
                               "jobs": {s.name: s.job for s in shards}})
    return record


def latest_jobs(record: dict) -> dict[str, dict]:
    """Shard name -> its most recent job (with the executor that ran it)."""
    jobs: dict[str, dict] = {}
    for attempt in record.get("attempts", []):
        for name, job in attempt["jobs"].items():
            jobs[name] = {**job, "executor": attempt.get("executor", record.get("executor"))}
    return jobs


# --- the scheduler -------------------------------------------------------------------------

def expand_job_ids(text: str) -> list[str]:
    """'12_[0-2,5%2]' -> ['12_0', '12_1', '12_2', '12_5']; other ids unchanged."""
    m = re.fullmatch(r"(\d+)_\[([^\]]+)\]", text)
    if not m:
        return [text]
    out = []
    for part in m.group(2).split("%")[0].split(","):
        lo, _, hi = part.partition("-")
        out += [f"{m.group(1)}_{i}" for i in range(int(lo), int(hi or lo) + 1)]
    return out


def slurm_states(job_ids: list[str]) -> dict[str, str]:
    """Scheduler state per array task id ('12_3' -> 'RUNNING'); ids it does not know are absent."""
    if not job_ids:
        return {}
    arrays = sorted({j.split("_")[0] for j in job_ids})
    states: dict[str, str] = {}
    answered = False
    queries = (["sacct", "-n", "-P", "-X", "-j", ",".join(arrays), "-o", "JobID,State"],
               ["squeue", "-h", "-r", "--states=all", "-j", ",".join(arrays), "-o", "%i|%T"])
    for cmd in queries:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (FileNotFoundError, subprocess.TimeoutExpired):
            continue
        if done.returncode != 0:
            continue  # e.g. sacct without an accounting database
        answered = True
        for line in done.stdout.splitlines():
            if "|" not in line:
                continue
            jid, state = line.split("|", 1)
            for one in expand_job_ids(jid.strip()):
                states.setdefault(one, state.split()[0] if state.strip() else "UNKNOWN")
        if states:
            break
    if not answered:  # neither sacct nor squeue answered: say so rather than guess
        return {j: UNREACHABLE for j in job_ids}
    return states


def local_state(job: dict) -> str:
    """submitit's local executor: the result file tells success or error; a live pid, running."""
    import pickle

    result = Path(job.get("result", ""))
    if result.is_file():
        try:
            outcome = pickle.loads(result.read_bytes())[0]
        except Exception:
            return "UNKNOWN"
        return "COMPLETED" if outcome == "success" else "FAILED"
    pid = job.get("job_id", "")
    if pid.isdigit():
        try:
            os.kill(int(pid), 0)
            return "RUNNING"
        except OSError:
            return "FAILED"
    return "UNKNOWN"


def job_states(record: dict | None) -> dict[str, str]:
    """Shard name -> scheduler state of its latest job."""
    if not record:
        return {}
    jobs = latest_jobs(record)
    slurm = slurm_states([j["job_id"] for j in jobs.values() if j["executor"] == "slurm"])
    return {name: slurm.get(j["job_id"], "UNKNOWN") if j["executor"] == "slurm" else local_state(j)
            for name, j in jobs.items()}


def active_shards(record: dict | None) -> list[str]:
    return sorted(name for name, state in job_states(record).items() if state in ACTIVE)


# --- runs and shards -----------------------------------------------------------------------

def run_state(run, out: Path, shard_running: bool) -> str:
    from repro.pipeline import is_complete

    if is_complete(run, out / run.id):
        return "done"
    partial = (out / f".{run.id}.partial").exists()
    if partial and shard_running:
        return "running"
    if partial or (out / run.id).exists():
        return "failed"
    return "not started"


def shard_state(job_state: str | None, run_states: list[str]) -> str:
    if run_states and all(s == "done" for s in run_states):
        return "done"
    if job_state is None:
        return "not submitted"
    if job_state == UNREACHABLE:
        return "unknown"
    if job_state in QUEUED:
        return "queued"
    if job_state in ACTIVE:
        return "running"
    return "failed"  # ended (cancelled, failed, out of time or memory...) or lost, with runs incomplete


def last_error(log: str | None) -> str:
    """Why a task ended, from its log: the package's own error block (`error: ...` and its
    indented lines), else the scheduler's last `***` notice (cancelled, time limit, memory)
    with the package's `interrupted` line, else the log's last line of its own."""
    if not log or not Path(log).is_file():
        return ""
    lines = Path(log).read_text(encoding="utf-8", errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if starts:
        block = [lines[starts[-1]]]
        for line in lines[starts[-1] + 1:]:
            if not line.startswith("  "):
                break
            block.append(line)
        return "\n".join(block)
    notices = [line for line in lines if line.startswith("slurmstepd") and "***" in line]
    if notices:
        return "\n".join(notices[-1:] + [line for line in lines if line.startswith("interrupted:")][-1:])
    own = [line for line in lines if line.strip() and not line.startswith(("srun:", "submitit ", " "))]
    return own[-1] if own else ""


def collect(manifest, out: Path, record: dict | None = None, states: dict[str, str] | None = None):
    """(shard rows, run rows) as dicts; a run outside every recorded shard is in shard '-'."""
    record = read_record(out) if record is None else record
    states = job_states(record) if states is None else states
    jobs = latest_jobs(record) if record else {}
    by_id = {r.id: r for r in manifest.runs}
    shards = (record or {}).get("shards", {})
    owner = {rid: name for name, s in shards.items() for rid in s["runs"]}
    shard_rows, run_rows = [], []
    for name, s in shards.items():
        job = jobs.get(name, {})
        running = states.get(name) in ACTIVE - QUEUED
        rstates = [run_state(by_id[rid], out, running) if rid in by_id else "not in manifest" for rid in s["runs"]]
        state = shard_state(states.get(name), rstates)
        shard_rows.append({"shard": name, "state": state, "scheduler": states.get(name, "-"),
                           "job_id": job.get("job_id", "-"), "done": rstates.count("done"), "runs": len(rstates),
                           "log": job.get("stderr") if state == "failed" else None,
                           "error": last_error(job.get("stderr")) if state == "failed" else ""})
        run_rows += [{"run": rid, "shard": name, "state": st, "job_id": job.get("job_id", "-")}
                     for rid, st in zip(s["runs"], rstates)]
    for run in manifest.runs:
        if run.id not in owner:
            run_rows.append({"run": run.id, "shard": "-", "state": run_state(run, out, False), "job_id": "-"})
    return shard_rows, run_rows


def print_status(manifest, out: Path, quiet: bool = False, fmt: str = "simple") -> int:
    """Print the tables; 0 when every run is done, 1 otherwise."""
    from tabulate import tabulate

    shard_rows, run_rows = collect(manifest, out)
    if shard_rows:
        print(tabulate([[s["shard"], s["state"], s["scheduler"], s["job_id"], f"{s['done']}/{s['runs']}", s["log"] or ""]
                        for s in shard_rows], headers=["shard", "state", "scheduler", "job id", "runs done", "log"],
                       tablefmt=fmt))
    else:
        print(f"no submission recorded in {record_path(out)}")
    for s in shard_rows:
        if s["error"]:
            print(f"\nshard {s['shard']} (job {s['job_id']}) failed; its log {s['log']} ends with:\n{s['error']}")
    if not quiet:
        print("\n" + tabulate([[r["run"], r["shard"], r["state"], r["job_id"]] for r in run_rows],
                              headers=["run", "shard", "state", "job id"], tablefmt=fmt))
    counts = {k: sum(r["state"] == k for r in run_rows) for k in ("done", "running", "failed", "not started")}
    print("\nruns: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + f" (of {len(run_rows)})")
    return 0 if counts["done"] == len(run_rows) else 1


def shards_to_resume(manifest, out: Path, record: dict):
    """Recorded shards with incomplete runs whose latest job is neither queued nor running."""
    from repro.launch import Shard

    shard_rows, _ = collect(manifest, out, record)
    todo = []
    for row in shard_rows:
        if row["state"] in ("failed", "not submitted"):
            s = record["shards"][row["shard"]]
            todo.append(Shard(row["shard"], s["runs"], s["argv"], s["resources"], s.get("memory_class")))
    return todo


def cmd_status(args) -> int:
    from repro.manifest import load_manifest

    from repro.launch import versioned_name

    manifest = load_manifest(args.manifest, code_version=args.code_version)
    out = Path(args.results) if args.results else Path("results") / versioned_name(manifest, args.code_version)
    print_status(manifest, out.resolve(), quiet=args.quiet, fmt=args.format)
    return 0


def register(subparsers) -> None:
    sp = subparsers.add_parser("status", help="per shard and per run: done / running / failed / not started")
    sp.add_argument("--manifest", "-m", required=True)
    sp.add_argument("--results", help="results directory (default results/<manifest name>)")
    sp.add_argument("--quiet", "-q", action="store_true", help="shards only, not every run")
    sp.add_argument("--code-version", choices=["paper-era", "tosem"],
                    help="the code version the submission followed (as given to `submit`)")
    sp.add_argument("--format", choices=["simple", "github"], default="simple")
    sp.set_defaults(func=cmd_status)

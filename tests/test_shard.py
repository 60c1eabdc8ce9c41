"""Sharding and the submitit launcher: shards partition the runs, keep train runs with their
evaluations, and shard results written into one directory merge into one report."""
import json
from pathlib import Path

import pytest

from repro.errors import UserError
from repro.launch import shard_argv, submit
from repro.manifest import load_manifest
from repro.shard import parse_shard, select_shard

TINY = """\
manifest_version: 1
study: shard-test
defaults:
  rq: smoke
  model: tiny-llama
  dataset: conala-bundled
  limit: 2
  metrics: [em]
  generation: {num_beams: 2, num_return_sequences: 2, max_new_tokens: 6, batch_size: 2}
runs:
  - id: zero-shot
  - id: icl-n1-seed{prompting.seed}
    prompting: {strategy: icl, n: 1}
    matrix: {prompting.seed: [1, 2, 3]}
"""


@pytest.mark.parametrize("text", ["3", "a/b", "2/2", "-1/3", "0/0"])
def test_bad_shards_are_user_errors(text):
    with pytest.raises(UserError):
        parse_shard(text)


@pytest.mark.parametrize("n", [1, 2, 7, 50])
def test_shards_partition_the_paper_manifest(n):
    m = load_manifest("manifests/paper")
    seen = []
    for i in range(n):
        shard = select_shard(m.runs, i, n)
        ids = {r.id for r in shard}
        for r in shard:  # every evaluation travels with its train run, which comes first
            src = r.config.get("adapter_from")
            if src:
                assert src in ids
                assert [x.id for x in shard].index(src) < [x.id for x in shard].index(r.id)
        seen += [r.id for r in shard]
    assert sorted(seen) == sorted(r.id for r in m.runs)
    assert select_shard(m.runs, 0, n) == select_shard(m.runs, 0, n)


def test_shards_are_balanced_by_groups():
    m = load_manifest("manifests/paper")
    sizes = [len(select_shard(m.runs, i, 4)) for i in range(4)]
    assert max(sizes) - min(sizes) <= 4


def test_shard_argv():
    assert shard_argv("m.yaml", 2, 5, "/r", only="rq2-*", rq="RQ2", extra=["--allow-unpinned"]) == [
        "reproduce", "--manifest", "m.yaml", "--shard", "2/5", "--out", "/r", "--quiet", "--only", "rq2-*",
        "--rq", "RQ2", "--allow-unpinned"]


def test_submitit_local_shards_merge_into_one_report(tmp_path):
    submitit = pytest.importorskip("submitit")
    manifest = tmp_path / "tiny.yaml"
    manifest.write_text(TINY)
    out = tmp_path / "results"
    executor = submitit.LocalExecutor(folder=str(tmp_path / "logs"))
    executor.update_parameters(timeout_min=10)
    jobs = submit(str(manifest), 2, str(out), executor)
    codes = [job.result() for job in jobs]
    assert codes == [0, 0]
    m = load_manifest(manifest)
    for run in m.runs:
        metrics = json.loads((out / run.id / "metrics.json").read_text())
        assert metrics["samples"] == 2 and "em@1" in metrics
    # Each shard ran its own runs only.
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*_log.out"))
    assert "shard 0/2" in logs and "shard 1/2" in logs

    from repro.report import write_report

    code = write_report(m, out, tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "4 of 4 runs have results" in text
    assert code == 0 and "not yet run" not in text


def test_unknown_executor_is_a_user_error(tmp_path):
    from repro.launch import make_executor

    with pytest.raises(UserError):
        make_executor("kubernetes", Path(tmp_path), timeout_min=1, partition=None, gpus=0, cpus=1, mem_gb=1,
                      array_parallelism=1)

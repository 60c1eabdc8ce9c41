"""Pinned inputs: lock resolution on a fake hub, the registry hook, the unpinned guard, the APPS subset."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
from huggingface_hub.hf_api import BlobLfsInfo, RepoSibling

from repro import lock, registry
from repro.tasks.apps import subset as apps_subset
from repro.cli import main
from repro.errors import UserError
from repro.manifest import load_manifest


def _sibling(name, lfs_sha=None):
    lfs = BlobLfsInfo(size=10, sha256=lfs_sha, pointer_size=1) if lfs_sha else None
    return RepoSibling(rfilename=name, size=10, blob_id="b" * 40, lfs=lfs)


class FakeHub:
    def __init__(self, fail_on=None):
        self.calls, self.fail_on = [], fail_on

    def _info(self, repo_id, files_metadata):
        assert files_metadata is True
        self.calls.append(repo_id)
        if repo_id == self.fail_on:
            raise ConnectionError("no route to host")
        return repo_id

    def model_info(self, repo_id, files_metadata=False):
        self._info(repo_id, files_metadata)
        return SimpleNamespace(sha="m" * 40, siblings=[
            _sibling("config.json"), _sibling("tokenizer.json"), _sibling("README.md"),
            _sibling("model-00001-of-00002.safetensors", "1" * 64), _sibling("pytorch_model.bin", "2" * 64),
            _sibling("onnx/model.onnx", "3" * 64)])

    def dataset_info(self, repo_id, files_metadata=False):
        self._info(repo_id, files_metadata)
        return SimpleNamespace(sha="d" * 40, siblings=[
            _sibling("train.json"), _sibling("dev.json"), _sibling("test.json"), _sibling("train.jsonl", "4" * 64),
            _sibling("test.jsonl", "5" * 64), _sibling("data/train-00000-of-00001.parquet", "6" * 64),
            _sibling("data/valid-00000-of-00001.parquet", "7" * 64),
            _sibling("data/test-00000-of-00001.parquet", "8" * 64), _sibling("README.md"),
            _sibling("fm+fc+c+m+f+t+tc/train/0000.parquet", "9" * 64),
            _sibling("fm+fc+c+m+f+t+tc/validation/0000.parquet", "a" * 64),
            _sibling("fm+fc+c+m+f+t+tc/test/0000.parquet", "b" * 64),
            _sibling("data/java/data/humaneval.jsonl.gz", "c" * 64)])


def fake_download(repo_id, filename, revision, repo_type):
    return f"sha-of-{repo_type}-{repo_id}-{filename}-{revision[:1]}"


def test_resolve_lock_on_a_fake_hub():
    hub = FakeHub()
    result = lock.resolve_lock(api=hub, download_sha256=fake_download)
    assert set(result["models"]) == {k for k, m in registry.MODELS.items() if m.hub_id}
    cl = result["models"]["codellama-7b"]
    assert cl["revision"] == "m" * 40
    # Safetensors (LFS sha256) and small git files (downloaded, hashed); no .bin when safetensors exist.
    assert cl["files"] == {"config.json": "sha-of-model-codellama/CodeLlama-7b-hf-config.json-m",
                           "model-00001-of-00002.safetensors": "1" * 64,
                           "tokenizer.json": "sha-of-model-codellama/CodeLlama-7b-hf-tokenizer.json-m"}
    assert set(result["datasets"]["codealpacapy"]["files"]) == {
        "data/train-00000-of-00001.parquet", "data/valid-00000-of-00001.parquet", "data/test-00000-of-00001.parquet"}
    assert result["datasets"]["apps"]["files"] == {"train.jsonl": "4" * 64, "test.jsonl": "5" * 64}
    assert result["retrievers"]["gte-small"]["hub_id"] == "thenlper/gte-small"


def test_resolve_only_some_keys_keeps_the_others():
    existing = lock.empty_lock()
    existing["models"]["codet5p-220m"] = {"hub_id": "Salesforce/codet5p-220m", "revision": "x" * 40, "files": {}}
    hub = FakeHub()
    result = lock.resolve_lock(api=hub, keys={"conala"}, existing=existing, download_sha256=fake_download)
    assert hub.calls == ["neulab/docprompting-conala"]
    assert result["models"]["codet5p-220m"]["revision"] == "x" * 40
    assert result["models"]["codellama-7b"]["revision"] is None
    assert result["datasets"]["conala"]["revision"] == "d" * 40


def test_resolve_failure_names_the_input_and_the_fix():
    with pytest.raises(UserError) as err:
        lock.resolve_lock(api=FakeHub(fail_on="codeparrot/apps"), download_sha256=fake_download)
    assert err.value.field == "datasets.apps" and "codeparrot/apps" in err.value.message
    assert "networked" in err.value.fix or "reaches the Hugging Face hub" in err.value.fix


def test_offline_lock_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["lock", "--out", str(tmp_path / "lock.json")]) == 2
    assert not (tmp_path / "lock.json").exists()


def test_committed_lock_covers_every_hub_input():
    committed = json.loads(lock.LOCK_PATH.read_text())
    for section, entries in lock.hub_inputs().items():
        for key, hub in entries.items():
            entry = committed[section][key]
            assert entry["hub_id"] == hub and "revision" in entry and "files" in entry


def test_registry_applies_pinned_revisions(tmp_path, monkeypatch):
    data = lock.empty_lock()
    data["models"]["codellama-7b"]["revision"] = "a" * 40
    data["datasets"]["conala"]["revision"] = "c" * 40
    path = tmp_path / "inputs.lock.json"
    path.write_text(json.dumps(data))
    monkeypatch.setitem(registry.MODELS, "codellama-7b", registry.MODELS["codellama-7b"])
    monkeypatch.setitem(registry.DATASETS, "conala", registry.DATASETS["conala"])
    registry.apply_input_lock(path)
    assert registry.MODELS["codellama-7b"].revision == "a" * 40
    assert registry.DATASETS["conala"].revision == "c" * 40
    assert registry.MODELS["codellama-7b-python"].revision is None
    path.write_text("{broken")
    with pytest.raises(UserError):
        registry.apply_input_lock(path)


def test_reproduce_refuses_unpinned_inputs(tmp_path, capsys):
    code = main(["reproduce", "-m", "manifests/paper", "--only", "rq1-codellama-7b-conala-zero-shot",
                 "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "codellama/CodeLlama-7b-hf" in err and "--allow-unpinned" in err
    assert not any(tmp_path.iterdir())


def test_allow_unpinned_sets_the_loaders_switch(monkeypatch):
    monkeypatch.delenv(lock.ALLOW_ENV, raising=False)
    runs = load_manifest("manifests/paper").select("rq1-codellama-7b-conala-zero-shot")
    lock.refuse_unpinned(SimpleNamespace(allow_unpinned=True), runs)
    assert lock.unpinned_allowed()
    monkeypatch.delenv(lock.ALLOW_ENV)
    with pytest.raises(UserError):
        lock.refuse_unpinned(SimpleNamespace(allow_unpinned=False), runs)
    assert not lock.unpinned_allowed()


def test_importing_the_registry_changes_nothing(tmp_path):
    """The lock applies when asked (the command line does), not on import; no umask change."""
    import os
    import subprocess
    import sys

    pinned = tmp_path / "lock.json"
    pinned.write_text(json.dumps({"models": {}, "datasets": {"conala": {"revision": "c" * 40}}}))
    code = ("import os; os.umask(0o027); import repro.registry, repro.records, repro.cli; "
            "assert repro.registry.DATASETS['conala'].revision is None; "
            "repro.records.write_atomic(os.environ['OUT'], 'x'); "
            "repro.registry.apply_input_lock(); assert repro.registry.DATASETS['conala'].revision == 'c' * 40; "
            "assert os.umask(0) == 0o027")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "REPRO_INPUTS_LOCK": str(pinned), "OUT": str(tmp_path / "f")})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o640


def test_bundled_smoke_inputs_need_no_pin():
    assert lock.unpinned(load_manifest("manifests/smoke.yaml").runs) == []


# --- APPS subset ---------------------------------------------------------------------------------

def _apps_rows(n, start=0):
    kinds = apps_subset.DIFFICULTIES
    return [{"problem_id": start + i, "difficulty": kinds[(i * 7) % 3], "question": f"q{i}"} for i in range(n)]


def test_validation_split_is_datasets_shuffle_seed_42():
    datasets = pytest.importorskip("datasets")
    rows = _apps_rows(1200)
    train, validation = apps_subset.split_train_validation(rows)
    expected = datasets.Dataset.from_list(rows).shuffle(seed=42)
    assert [r["problem_id"] for r in validation] == expected["problem_id"][:500]
    assert [r["problem_id"] for r in train] == expected["problem_id"][500:]
    assert len(train) == 700 and not {r["problem_id"] for r in train} & {r["problem_id"] for r in validation}


def test_test_subset_first_250_per_difficulty_in_split_order():
    rows = _apps_rows(1000, start=5000)
    chosen = apps_subset.select_test(rows)
    assert len(chosen) == 750
    ids = [r["problem_id"] for r in chosen]
    assert ids == sorted(ids)  # split order kept
    for d in apps_subset.DIFFICULTIES:
        mine = [r["problem_id"] for r in rows if r["difficulty"] == d][:250]
        assert [r["problem_id"] for r in chosen if r["difficulty"] == d] == mine
    with pytest.raises(ValueError, match="fewer than 250"):
        apps_subset.select_test(rows[:600])


def test_subset_record_is_deterministic_and_changes_with_the_data():
    train, test = _apps_rows(1200), _apps_rows(1000, start=5000)
    a = apps_subset.subset_record(train, test, "r" * 40)
    assert a == apps_subset.subset_record(train, test, "r" * 40)
    assert a["counts"] == {"train": 700, "validation": 500, "test/introductory": 250, "test/interview": 250,
                           "test/competition": 250}
    test[0] = dict(test[0], question="changed")
    b = apps_subset.subset_record(train, test, "r" * 40)
    assert b["test_ids_sha256"] == a["test_ids_sha256"] and b["test_rows_sha256"] != a["test_rows_sha256"]
    assert np.all(np.asarray(a["validation_problem_ids"]) < 1200)


def test_committed_subset_file_states_the_rule():
    committed = json.loads(apps_subset.SUBSET_PATH.read_text())
    assert committed["rule"] == apps_subset.RULE
    if committed["test_problem_ids"] is not None:
        assert len(committed["test_problem_ids"]) == 750
        assert committed["test_ids_sha256"] == apps_subset._sha(committed["test_problem_ids"])

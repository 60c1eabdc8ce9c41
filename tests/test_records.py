"""Records: atomic writes, SHA256SUMS, and tamper detection that names the file."""
import os

import pytest

from repro import records
from repro.cli import main


def make_run_dir(root):
    records.write_json(root / "r1" / "metrics.json", {"em@1": 1.0})
    records.write_jsonl(root / "r1" / "predictions.jsonl", [{"a": 1}, {"a": 2}])
    records.write_atomic(root / "r1" / "weights" / "w.bin", b"\x00\x01")
    records.write_sums(root / "r1")
    return root / "r1"


def test_write_atomic_leaves_no_temp_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    records.write_atomic(target, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        records.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_verify_clean_tree(tmp_path):
    make_run_dir(tmp_path)
    assert records.verify_tree(tmp_path) == []


@pytest.mark.parametrize("name", ["metrics.json", "predictions.jsonl", "weights/w.bin"])
def test_one_changed_byte_is_named(tmp_path, name, capsys):
    d = make_run_dir(tmp_path)
    data = bytearray((d / name).read_bytes())
    data[0] ^= 1
    (d / name).write_bytes(bytes(data))
    problems = records.verify_tree(tmp_path)
    assert len(problems) == 1 and name in problems[0]
    assert main(["verify", str(tmp_path)]) == 1
    assert name in capsys.readouterr().out


def test_missing_and_extra_files(tmp_path):
    d = make_run_dir(tmp_path)
    (d / "metrics.json").unlink()
    (d / "extra.txt").write_text("x")
    problems = records.verify_tree(tmp_path)
    assert any("metrics.json: missing" in p for p in problems)
    assert any("extra.txt: not listed" in p for p in problems)


def test_canonical_json_is_byte_stable():
    assert records.dumps_json({"b": 1, "a": [1, 2]}) == records.dumps_json({"a": [1, 2], "b": 1})

"""Provenance: manifest-entry hashing, git state, container, packages, CPU and GPU facts."""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from repro import provenance
from repro.errors import UserError

REPO = Path(__file__).resolve().parent.parent


def test_collect_is_json_and_has_every_section():
    record = provenance.collect({"id": "rq2/lora/codegen-350m/conala", "lr": 3e-4})
    text = json.dumps(record, allow_nan=False)
    assert set(record) == {"manifest_entry_sha256", "repro_version", "container", "git",
                           "python", "packages", "os", "cpu", "gpu", "env"}
    assert record["python"]["version"].startswith(f"{sys.version_info[0]}.{sys.version_info[1]}")
    hostname = socket.gethostname()
    if len(hostname) >= 4:
        assert hostname not in text
    assert str(Path.home()) not in text or str(Path.home()) == "/"


def test_entry_hash_is_sha256_of_canonical_json_and_ignores_key_order():
    entry = {"model": "codellama-7b", "method": {"name": "lora", "r": 16, "alpha": 32},
             "seeds": [42, 777], "note": "é"}
    reordered = {"seeds": [42, 777], "note": "é",
                 "method": {"alpha": 32, "r": 16, "name": "lora"}, "model": "codellama-7b"}
    expected = hashlib.sha256(
        '{"method":{"alpha":32,"name":"lora","r":16},"model":"codellama-7b","note":"é",'
        '"seeds":[42,777]}'.encode("utf-8")).hexdigest()
    assert provenance.manifest_entry_sha256(entry) == expected
    assert provenance.manifest_entry_sha256(reordered) == expected
    changed = dict(entry, seeds=[42, 778])
    assert provenance.manifest_entry_sha256(changed) != expected
    assert provenance.collect(entry)["manifest_entry_sha256"] == expected
    assert provenance.collect(None)["manifest_entry_sha256"] is None


@pytest.mark.parametrize("entry, field", [
    ({"data": {"revision": datetime.date(2023, 1, 1)}}, "data.revision"),
    ({"runs": [{"lr": float("nan")}]}, "runs[0].lr"),
    ({"seeds": {1: "a"}}, "seeds.1"),
])
def test_entry_that_is_not_plain_json_names_the_field(entry, field):
    with pytest.raises(UserError) as caught:
        provenance.manifest_entry_sha256(entry)
    assert caught.value.field == field
    assert "quote the value" in caught.value.fix


def test_collect_does_not_import_torch():
    code = ("import sys, repro.provenance as p; p.collect({'a': 1}); "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "False"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c",
                           "user.email=t@example.org", *args], check=True,
                          capture_output=True, text=True).stdout.strip()


def test_git_commit_and_dirty_flag(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-qm", "first")
    head = _git(tmp_path, "rev-parse", "HEAD")
    clean = provenance.git_info(tmp_path)
    assert clean == {"commit": head, "dirty": False, "source": "git checkout"}
    (tmp_path / "a.txt").write_text("two\n")
    assert provenance.git_info(tmp_path)["dirty"] is True


def test_not_a_git_checkout_falls_back_to_the_image_build_args(tmp_path, monkeypatch):
    monkeypatch.delenv("REPRO_GIT_COMMIT", raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    info = provenance.git_info(tmp_path)
    assert info["commit"] is None and info["dirty"] is None
    assert info["source"].startswith("none: not a git checkout")
    monkeypatch.setenv("REPRO_GIT_COMMIT", "0123abc")
    monkeypatch.setenv("REPRO_GIT_DIRTY", "false")
    assert provenance.git_info(tmp_path) == {
        "commit": "0123abc", "dirty": False, "source": "image build (REPRO_GIT_COMMIT)"}


def test_git_binary_missing_is_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("REPRO_GIT_COMMIT", raising=False)
    assert provenance.git_info(REPO)["commit"] is None


def test_container_detection(tmp_path, monkeypatch):
    marker = tmp_path / ".dockerenv"
    monkeypatch.setattr(provenance, "CONTAINER_MARKERS", (marker,))
    monkeypatch.delenv("REPRO_IMAGE_DIGEST", raising=False)
    assert provenance.container_info() == {"in_container": False, "image_digest": "none"}
    marker.touch()
    inside = provenance.container_info()
    assert inside["in_container"] is True
    assert inside["image_digest"].startswith("unknown: REPRO_IMAGE_DIGEST")
    monkeypatch.setenv("REPRO_IMAGE_DIGEST", "sha256:" + "ab" * 32)
    monkeypatch.setenv("REPRO_BASE_IMAGE", "peft-code-repro/debian-minbase:bookworm")
    monkeypatch.setenv("REPRO_LOCK_FILE", "requirements/cpu.lock")
    inside = provenance.container_info()
    assert inside["image_digest"] == "sha256:" + "ab" * 32
    assert inside["base_image"] == "peft-code-repro/debian-minbase:bookworm"
    assert inside["lock_file"] == "requirements/cpu.lock"


def test_package_versions_match_installed_metadata():
    versions = provenance.package_versions(("PyYAML", "jsonschema", "no-such-dist-xyz"))
    assert versions["PyYAML"] == metadata.version("pyyaml")
    assert versions["jsonschema"] == metadata.version("jsonschema")
    assert versions["no-such-dist-xyz"] == "not installed"


def test_cpu_model_comes_from_proc_cpuinfo():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("this system has no /proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")]
    info = provenance.cpu_info()
    assert info["model"] == (names[0] if names else "unknown")
    assert info["logical_cores"] == os.cpu_count()


@pytest.mark.parametrize("text, version", [
    ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n",
     "535.104.05"),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build\n",
     "580.65.06"),
])
def test_driver_version_from_proc(tmp_path, monkeypatch, text, version):
    proc = tmp_path / "version"
    proc.write_text(text)
    monkeypatch.setattr(provenance, "NVIDIA_DRIVER_FILE", proc)
    assert provenance.nvidia_driver_version() == version
    monkeypatch.setattr(provenance, "NVIDIA_DRIVER_FILE", tmp_path / "absent")
    assert provenance.nvidia_driver_version() == "none"


def test_gpu_follows_torch_when_torch_is_imported(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "torch", torch)
    info = provenance.gpu_info()
    assert info["count"] == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    assert info["cuda"] == (torch.version.cuda or "none")
    if not torch.cuda.is_available():
        assert info["model"] == "none"


def test_gpu_from_nvidia_smi_without_torch(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA RTX A5000, 24564, 535.104.05'\n")
    fake.chmod(0o755)
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(provenance, "NVIDIA_DRIVER_FILE", tmp_path / "absent")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    info = provenance.gpu_info()
    assert info["model"] == "NVIDIA RTX A5000" and info["count"] == 1
    assert info["memory_gib"] == [23.99] and info["driver"] == "535.104.05"
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    none = provenance.gpu_info()
    assert none["model"] == "none" and none["count"] == 0
    assert none["source"].startswith("none:")

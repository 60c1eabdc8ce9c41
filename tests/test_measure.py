"""`repro measure`, `repro plan --calibration FILE` and `make gpu-check` on a machine without a GPU.

measure runs on a tiny stand-in (random weights, built in well under a second); each case is a
child process, so these tests start three of them.
"""
import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repro import measure, plan
from repro.cli import main
from repro.manifest import load_manifest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def written(monkeypatch):
    """Paths written through repro.records.write_atomic during the test."""
    import repro.records

    paths = []
    real = repro.records.write_atomic

    def spy(path, data):
        paths.append(Path(path))
        return real(path, data)

    monkeypatch.setattr(repro.records, "write_atomic", spy)
    return paths


def test_measure_on_a_tiny_stand_in_writes_a_well_formed_calibration_file(tmp_path, written, capsys):
    out = tmp_path / "cal" / "dev.json"
    code = main(["measure", "--models", "tiny-llama", "--methods", "lora", "--steps", "2", "--gen-prompts", "2",
                 "--max-new-tokens", "2", "--threads", "1", "--out", str(out), "--note", "test"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    doc = measure.load_calibration(out)  # the reader plan uses accepts it
    assert doc["complete"] is True and doc["conditions"]["note"] == "test"
    assert doc["device"]["slug"] == measure.current_device_slug() and doc["device"]["kind"] == "cpu"
    assert doc["versions"]["torch"] and doc["versions"]["transformers"]
    train, gen = doc["cases"]
    assert (train["kind"], train["model"], train["method"], train["status"]) == ("train", "tiny-llama", "lora", "measured")
    assert train["batch"] == 8 and train["steps"] == 2 and len(train["step_seconds"]) == 2
    assert train["peak_memory_gb"] > 0 and train["seconds_per_step"] > 0 and "resident set size" in train["peak_kind"]
    assert train["precision"]["policy"] == "paper-era" and train["precision"]["weights"] == "float32"
    lengths = train["seq_lengths"]
    assert lengths["rows"] == 16 and 0 < lengths["min"] <= lengths["median"] <= lengths["max"] <= lengths["max_length"]
    assert gen["kind"] == "generate" and gen["status"] == "measured"
    assert set(gen["samples_per_second"]) == {"1", "8", "16"} and all(v > 0 for v in gen["samples_per_second"].values())
    assert gen["identical_to_batch_1"]["1"] is True
    assert gen["identical_across_batch_sizes"] == all(gen["identical_to_batch_1"].values())
    # Every write went through the atomic writer (one per case, then the final one); nothing else is left.
    assert written and set(written) == {out} and len(written) == len(doc["cases"]) + 1
    assert [p.name for p in out.parent.iterdir()] == ["dev.json"]
    assert "[1/2] tiny-llama lora: peak" in printed and "[2/2] tiny-llama generation" in printed


def test_a_case_that_fails_in_its_child_is_recorded_and_the_run_goes_on(tmp_path, capsys):
    out = tmp_path / "dev.json"
    # 0.5 GB of address space: the case's process cannot even import torch.
    code = main(["measure", "--models", "tiny-llama", "--methods", "lora,ia3", "--skip-generation",
                 "--case-memory-limit", "0.5", "--threads", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["complete"] is True and [c["method"] for c in doc["cases"]] == ["lora", "ia3"]
    for case in doc["cases"]:
        assert case["status"] == "skipped" and case["failed"] is True
        assert "failed in its child process" in case["reason"] and "--case-memory-limit 0.5" in case["reason"]
    assert "0 measured, 2 skipped (2 failed in their child process)" in printed


def test_cases_that_cannot_run_here_are_listed_with_the_reason():
    cpu = {"kind": "cpu", "memory_gib": 23.5}
    assert "does not fit" in measure.skip_reason("codellama-34b-python", "lora", cpu, allow_slow=True)
    assert "--cpu-max-params" in measure.skip_reason("codegen2-1b", "lora", cpu, allow_slow=False)
    assert "--cpu-max-params 0.3B" in measure.skip_reason("codegen-350m-mono", "lora", cpu, False, 0.3e9)
    assert "fully fine-tunes only" in measure.skip_reason("codellama-7b", "full-ft", cpu, allow_slow=True)
    assert measure.skip_reason("codegen-350m-mono", "full-ft", cpu, allow_slow=False) is None
    assert "no published architecture facts" in measure.skip_reason("codegen-350m-multi", "lora", cpu, True)
    gpu = {"kind": "cuda", "gpu_memory_gib": 24.0}
    assert measure.skip_reason("codellama-7b-python", "lora", gpu, allow_slow=False) is None
    assert "this GPU has 24 GiB" in measure.skip_reason("codellama-34b-python", "lora", gpu, allow_slow=False)


def _calibration(tmp_path, cases) -> Path:
    doc = {"format": measure.FORMAT, "measured_at": "2026-01-01T00:00:00Z",
           "device": {"slug": "cuda-test-gpu", "kind": "cuda", "description": "Test GPU (48 GiB)"}, "cases": cases}
    path = tmp_path / "cuda-test-gpu.json"
    path.write_text(json.dumps(doc))
    return path


def test_plan_uses_the_calibration_for_the_runs_it_covers_and_the_fit_for_the_others(tmp_path, capsys):
    covered = {"kind": "train", "model": "codellama-7b-python", "method": "lora", "status": "measured",
               "batch": 8, "peak_memory_gb": 17.25, "seconds_per_step": 0.8}
    skipped = {"kind": "train", "model": "codellama-7b-python", "method": "qlora-4bit", "status": "skipped",
               "reason": "bitsandbytes missing"}
    path = _calibration(tmp_path, [covered, skipped])
    runs = load_manifest("manifests/paper").select("rq2-codellama-7b-python-conala-*-train", None)
    by_method = {r.config["tuning"]["method"]: r for r in runs}
    assert {"lora", "qlora-4bit"} <= set(by_method)
    estimates = {e.method: e for e in plan.plan(runs, 24.0, measure.training_cases(measure.load_calibration(path)))}
    lora, q4 = estimates["lora"], estimates["qlora-4bit"]
    assert lora.basis == "calibration" and lora.memory_gb == round(covered["peak_memory_gb"], 2)
    cfg = by_method["lora"].config
    t = cfg["tuning"]
    n_train, n_val, _ = plan._split_sizes(cfg["dataset"])
    steps = math.ceil(n_train / (t["batch_size"] * t["gradient_accumulation_steps"])) * t["epochs"]
    evals = round(t["epochs"] / t["eval_every_epoch_fraction"]) * math.ceil(n_val / t["batch_size"])
    assert lora.gpu_hours == pytest.approx(covered["seconds_per_step"] * (steps + evals / 3) / 3600)
    # Not covered (skipped in the file): the fit, exactly as without a file.
    assert q4.basis == "fit" and q4.memory_gb == plan.estimate(by_method["qlora-4bit"], 24.0).memory_gb
    assert main(["plan", "-m", "manifests/paper", "--only", "rq2-codellama-7b-python-conala-*-train",
                 "--calibration", str(path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("rq2-")}
    assert rows[by_method["lora"].id][-1] == "calibration" and rows[by_method["qlora-4bit"].id][-1] == "fit"
    assert rows[by_method["lora"].id][5] == f"{covered['peak_memory_gb']:.2f}"
    assert f"measured on Test GPU (48 GiB) ({path}" in out
    # Totals never add the calibrated device's hours to the A5000 fit's.
    total = next(line for line in out.splitlines() if line.startswith("total"))
    fit_hours = sum(e.gpu_hours for e in estimates.values() if e.basis == "fit" and not math.isnan(e.gpu_hours))
    calibrated_hours = sum(e.gpu_hours for e in estimates.values() if e.basis == "calibration")
    assert f"{fit_hours:.1f} + {calibrated_hours:.1f} calibrated" in total


def test_plan_without_a_file_says_which_calibration_file_applies_here(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "-m", str(REPO / "manifests/smoke.yaml"), "-q"]) == 0
    assert "was measured on this device" not in capsys.readouterr().out
    here = tmp_path / "calibration" / f"{measure.current_device_slug()}.json"
    here.parent.mkdir()
    here.write_text("{}")
    assert main(["plan", "-m", str(REPO / "manifests/smoke.yaml"), "-q"]) == 0
    assert f"pass --calibration calibration/{here.name} to use its numbers" in capsys.readouterr().out


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.pop("format"), "format"),
    (lambda d: d["cases"][0].update(peak_memory_gb=-1), "cases[0].peak_memory_gb"),
    (lambda d: d["cases"][0].update(seconds_per_step="fast"), "cases[0].seconds_per_step"),
    (lambda d: d["cases"][0].update(model="gpt-9"), "cases[0].model"),
    (lambda d: d["cases"][0].update(method="lorax"), "cases[0].method"),
    (lambda d: d["device"].pop("slug"), "device.slug"),
])
def test_a_bad_calibration_file_is_a_clear_error_naming_file_and_field(tmp_path, capsys, mutate, field):
    good = {"kind": "train", "model": "codet5p-220m", "method": "lora", "status": "measured", "batch": 8,
            "peak_memory_gb": 1.5, "seconds_per_step": 2.0}
    path = _calibration(tmp_path, [good])
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))
    assert main(["plan", "-m", "manifests/smoke.yaml", "--calibration", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"file {path}" in err and f"field '{field}'" in err and "fix:" in err


def test_a_calibration_file_that_is_not_json_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "x.json"
    path.write_text("{not json")
    assert main(["plan", "-m", "manifests/smoke.yaml", "--calibration", str(path)]) == 2
    assert f"file {path}" in capsys.readouterr().err


def test_gpu_check_without_a_gpu_runs_nothing_says_why_and_exits_0():
    import torch

    if torch.cuda.is_available():  # there the script runs for real (minutes): `make gpu-check`
        pytest.skip("this machine has a GPU: the no-GPU message does not apply")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    doc = REPO / "docs" / "performance" / "gpu.md"
    before = doc.read_bytes() if doc.exists() else None
    # As `make gpu-check PYTHON=... NO_VENV=1` runs it: a plain interpreter, the script by path.
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "gpu_check.py")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "gpu-check: ran nothing:" in proc.stdout and "sees no CUDA GPU" in proc.stdout
    assert (doc.read_bytes() if doc.exists() else None) == before


def test_gpu_check_with_its_own_python_creates_no_venv_and_installs_nothing():
    dry = subprocess.run(["make", "-n", "gpu-check", "PYTHON=python3", "NO_VENV=1"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    assert "tools/gpu_check.py" in dry and "python3 tools/gpu_check.py" in dry
    for word in ("venv", "pip", "install", ".venv/bin"):
        assert word not in dry, dry
    # The default path does use the project's venv.
    assert ".venv/bin/python tools/gpu_check.py" in subprocess.run(
        ["make", "-n", "gpu-check"], cwd=REPO, capture_output=True, text=True, check=True).stdout


def test_gpu_check_report_renders_from_a_calibration_file(tmp_path):
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(REPO / "tools"))
    paper = gpu_check.figure1()
    lora = {"kind": "train", "model": "codellama-7b-python", "method": "lora", "status": "measured",
            "peak_memory_gb": 18.0, "peak_reserved_gb": 19.0, "seconds_per_step": 1.2}
    gen = {"kind": "generate", "model": "codellama-7b-python", "method": "none", "status": "measured",
           "samples_per_second": {"1": 0.5, "8": 2.5, "16": 3.0}, "batching_speedup": 6.0, "prompts": 16,
           "beams": 10, "candidates": 10, "max_new_tokens": 64, "identical_to_batch_1": {"1": True, "8": True, "16": False}}
    text = gpu_check.render({"description": "Test GPU"}, {"torch": "2.11.0", "bitsandbytes": None}, ["n"],
                            [{"model": "codellama-7b", "method": "lora", "status": "ok", "detail": "d"}],
                            {"cases": [lora, copy.deepcopy(gen)]}, tmp_path / "c.json", 3.0)
    ref = paper[("codellama-7b-python", "lora")]
    assert f"| lora | 18.00 | 19.0 | 1.20 | {ref} | {18.0 - ref:+.2f} |" in text
    assert "**Device:** Test GPU" in text and "| bitsandbytes | not installed |" in text
    assert "6.00x (target >= 4x: met)" in text

"""`repro plan`: the memory model against Figure 1, fit flags, GPU-hours, the command."""

import pytest

from repro import plan
from repro.cli import main
from repro.manifest import load_manifest


def test_memory_model_reproduces_figure1_within_its_stated_error():
    rows = plan.calibration()
    assert len(rows) == 10
    errors = [abs(r["error_gb"]) for r in rows]
    assert max(errors) < 2.0
    assert (sum(e * e for e in errors) / len(errors)) ** 0.5 < 1.0


def test_memory_ordering_follows_the_methods():
    lora = plan.train_memory_gb("codellama-7b-python", "lora")
    q8 = plan.train_memory_gb("codellama-7b-python", "qlora-8bit")
    q4 = plan.train_memory_gb("codellama-7b-python", "qlora-4bit")
    assert q4 < q8 < lora
    assert plan.train_memory_gb("codellama-34b-python", "qlora-4bit") < 24 < plan.train_memory_gb(
        "codellama-34b-python", "lora")
    # PEFT never above full fine-tuning of the same model.
    assert plan.train_memory_gb("codet5p-220m", "lora") <= plan.train_memory_gb("codet5p-220m", "full-ft")


def test_fit_flags_and_generation_batch():
    m = load_manifest("manifests/paper")
    runs = {r.id: r for r in m.runs}
    icl16 = plan.estimate(runs["rq1-codellama-7b-conala-icl-n16-seed42"], 24)
    assert icl16.fits.startswith("with generation batch")
    assert plan.estimate(runs["rq1-codellama-7b-conala-zero-shot"], 24).fits == "yes"
    assert plan.estimate(runs["rq2-codellama-7b-python-conala-lora-train"], 16).fits == "NO"
    assert plan.estimate(runs["rq2-codellama-34b-python-conala-qlora-4bit-train"], 24).fits == "yes"
    t = plan.estimate(runs["rq2-codellama-7b-python-conala-lora-train"], 24)
    assert t.gpu_hours > plan.estimate(runs["rq2-codegen2-1b-conala-lora-train"], 24).gpu_hours > 0


def test_plan_command_on_the_paper_manifest(capsys):
    assert main(["plan", "-m", "manifests/paper", "-q"]) == 0
    out = capsys.readouterr().out
    total = [line for line in out.splitlines() if line.startswith("total")][0].split()
    assert total[1] == "819"
    assert main(["plan", "-m", "manifests/paper", "--rq", "RQ2", "--gpu-memory", "16", "--show-fit"]) == 0
    out = capsys.readouterr().out
    assert " NO " in out and "RMSE" in out


def test_plan_on_smoke_and_bad_selection(capsys):
    assert main(["plan", "-m", "manifests/smoke.yaml"]) == 0
    assert "llama-lora-train" in capsys.readouterr().out
    assert main(["plan", "-m", "manifests/smoke.yaml", "--only", "nothing*"]) == 2


def test_a_max_steps_run_is_costed_at_the_steps_the_trainer_makes():
    """`max_steps` overrides the epochs (transformers' TrainingArguments: "If set to a positive
    number, the total number of training steps to perform. Overrides num_train_epochs"): the smoke's
    100-step runs make 100 / ceil(800 / 8) = 1 epoch of the 800 bundled Conala rows, not 5; the
    LoRA run without a step limit makes its 10 epochs."""
    runs = {r.id: r for r in load_manifest("manifests/smoke.yaml").runs}
    n_train = sum(1 for _ in open("repro/bundled/conala/train.jsonl", encoding="utf-8"))
    assert plan.trained_epochs(runs["llama-ia3-train"].config) == 100 / -(-n_train // 8)
    assert plan.trained_epochs(runs["llama-lora-train"].config) == 10
    ten, one = (plan.estimate(runs[k], 24.0).gpu_hours for k in ("llama-lora-train", "llama-ia3-train"))
    assert ten / one == pytest.approx(10)   # same model, PEFT family and tokens; evaluations scale too

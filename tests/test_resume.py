"""An interrupted training run resumes from its last checkpoint (weights, optimizer,
scheduler and RNG states) and ends with weights byte-identical to an uninterrupted run;
checkpoints live where the caller says (a run's partial directory), never in system temp,
and stay until the caller removes them: an attempt killed after training resumes from the
final checkpoint without training again."""
import copy
import tempfile
from pathlib import Path

import pytest
import torch
from transformers import Trainer

from repro import tuning
from repro.manifest import BUILTIN_DEFAULTS
from repro.modeling import load_model, load_tokenizer
from repro.registry import MODELS
from repro.tiny_models import build_tiny
from repro.train import count_cut_targets, train

ROWS = [{"prompt": f"### Instruction:\nreturn {w} plus one\n### Response:\n", "target": f"{w} + 1"}
        for w in ["a", "b", "count", "total", "n", "size", "x", "y", "value", "k", "m", "z"]]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_tiny("tiny-llama", tmp_path_factory.mktemp("tiny") / "tiny-llama", steps=2, progress=False)


def _cfg(method: str) -> dict:
    cfg = copy.deepcopy(BUILTIN_DEFAULTS["tuning"])
    cfg.update(method=method, learning_rate=1e-2, max_steps=6, epochs=1, batch_size=4, max_length=64,
               optimizer="adamw", eval_every_epoch_fraction=0.4)   # AdamW: an optimizer state that matters
    return cfg


def _train(base: Path, method: str, checkpoint_dir: Path) -> tuple[dict, dict]:
    spec, m = MODELS["tiny-llama"], tuning.get(method)
    cfg = _cfg(method)
    tok = load_tokenizer(spec, str(base))
    torch.manual_seed(0)
    model = m.wrap(load_model(spec, str(base), m.load_kwargs(cfg, False)), spec, cfg, tok, str(base))
    stats = train(model, tok, ROWS, ROWS[:4], cfg, seq2seq=False, seed=0, on_gpu=False, progress=False,
                  checkpoint_dir=str(checkpoint_dir))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, stats


class Killed(BaseException):
    pass


@pytest.mark.parametrize("method", ["lora", "full-ft"])
def test_interrupted_training_resumes_to_identical_weights(base, tmp_path, monkeypatch, method):
    torch.set_num_threads(1)
    whole, whole_stats = _train(base, method, tmp_path / "a" / "checkpoints")
    assert (tmp_path / "a" / "checkpoints").is_dir(), "kept for the caller (killed while saving: no retraining)"

    saved = []
    original, original_step = Trainer._save_checkpoint, Trainer.training_step

    def save(self, *args, **kwargs):
        original(self, *args, **kwargs)
        saved.append(self.state.global_step)

    def step_or_die(self, *args, **kwargs):
        if len(saved) == 2:   # killed right after the second checkpoint
            raise Killed()
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_save_checkpoint", save)
    monkeypatch.setattr(Trainer, "training_step", step_or_die)
    system_temp = tmp_path / "system-temp"   # this process's temp directory, to see what lands there
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    ckpt = tmp_path / "b" / "checkpoints"
    with pytest.raises(Killed):
        _train(base, method, ckpt)
    assert sorted(p.name for p in ckpt.iterdir() if p.name.startswith("checkpoint-")), "kept for the next attempt"
    monkeypatch.setattr(Trainer, "_save_checkpoint", original)
    # A checkpoint killed while being written (no trainer_state.json yet) is not resumed from.
    half = ckpt / f"checkpoint-{saved[-1] + 1}"
    half.mkdir()
    (half / "adapter_model.safetensors").write_bytes(b"\0" * 10)

    steps_run = []

    def counting_step(self, *args, **kwargs):
        steps_run.append(self.state.global_step)
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "training_step", counting_step)
    resumed, resumed_stats = _train(base, method, ckpt)
    # it resumed: only the steps after the last checkpoint ran again
    assert len(steps_run) == whole_stats["global_steps"] - saved[-1] and steps_run[0] == saved[-1], (steps_run, saved)
    assert saved[-1] < whole_stats["global_steps"], "the kill happened before the end"
    assert resumed_stats["global_steps"] == whole_stats["global_steps"]
    # metrics.json of a resumed run equals an uninterrupted run's (the loss summed over every step)
    assert resumed_stats == whole_stats
    assert resumed.keys() == whole.keys()
    for name in whole:
        assert torch.equal(whole[name], resumed[name]), name
    assert list(system_temp.iterdir()) == [], "nothing left in the system temp directory"

    # Killed after training (e.g. while saving the weights): the next attempt trains no step again.
    steps_run.clear()
    again, again_stats = _train(base, method, ckpt)
    assert steps_run == [] and again_stats == whole_stats
    for name in whole:
        assert torch.equal(whole[name], again[name]), name


def test_truncated_targets_are_counted(base):
    tok = load_tokenizer(MODELS["tiny-llama"], str(base))
    rows = [{"prompt": "p " * 5, "target": "t " * 3},       # fits
            {"prompt": "p " * 5, "target": "t " * 40},      # target cut
            {"prompt": "p " * 60, "target": "t"}]           # prompt fills max_length: no target left
    prompt_len = len(tok(rows[0]["prompt"])["input_ids"])
    assert prompt_len < 20 < len(tok(rows[2]["prompt"])["input_ids"])
    assert count_cut_targets(tok, rows, False, 20, "train") == {"train_truncated_targets": 1, "train_empty_targets": 1}

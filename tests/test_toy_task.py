"""A new task is its own folder plus one registration: a toy task ("reverse a string") with
its own template, stop rule and scorer, written into a temporary folder outside the
package, runs end to end on a tiny model from a one-run manifest. Nothing under repro/
changes (the run does not even write there)."""
import hashlib
import json
import sys
from pathlib import Path

from repro import pins, tasks, tiny_models
from repro.cli import main
from repro.registry import DATASETS

REPRO = Path(__file__).resolve().parents[1] / "repro"

TOY_TASK = '''
"""Toy task: reverse a string."""
from pathlib import Path

from repro.metrics import Scores
from repro.registry import DatasetSpec
from repro.tasks.base import Task, Template

HERE = Path(__file__).resolve().parent
STOP_RULE_BUILT = []


def prompt(row, examples, system_line, example_format):
    return "reverse: " + row["intent"] + " ->"


def pairs(rows):
    return [{"prompt": prompt(r, (), False, "plain"), "target": r["code"]} for r in rows]


def stop_at_newline(tokenizer, prompt_length, gen):
    from transformers import StoppingCriteria

    STOP_RULE_BUILT.append(prompt_length)

    class StopAtNewline(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            import torch
            texts = tokenizer.batch_decode(input_ids[:, prompt_length:])
            return torch.tensor(["\\n" in t for t in texts], device=input_ids.device)

    return StopAtNewline()


def reversed_share(ctx):
    top1 = [c[0].strip() if c else "" for c in ctx.candidates]
    hits = [t == s["intent"][::-1] for t, s in zip(top1, ctx.samples)]
    return Scores({"toy/reversed": round(100.0 * sum(hits) / len(hits), 4)},
                  [{"toy_reversed": h} for h in hits])


class ReverseString(Task):
    name = "toy-reverse"
    templates = {"toy-reverse": Template(prompt=prompt, pairs=pairs, takes_examples=False)}
    stop_rules = {"toy-newline": stop_at_newline}
    scorers = {"toy-reversed": "toy_reverse:reversed_share"}
    datasets = (DatasetSpec("toy-strings", task="toy-reverse", hub_id=None, bundled_dir=str(HERE / "data"),
                            splits={"train": "train", "validation": "train", "test": "test"},
                            intent_field="text", code_field="reversed", max_new_tokens=6),)


TASK = ReverseString()
'''

MANIFEST = """\
manifest_version: 1
study: toy
runs:
  - id: toy-eval
    model: tiny-llama
    dataset: toy-strings
    limit: 4
    prompting: {template: toy-reverse}
    generation: {strategy: greedy, num_beams: 1, num_return_sequences: 1, stop_rule: toy-newline}
    metrics: [toy-reversed, em]
"""


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_a_toy_task_in_its_own_folder_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setattr(tiny_models, "PRETRAIN_STEPS", 5)              # a quick base, for this test only
    monkeypatch.setattr(pins, "CHECKSUMS_DIR", tmp_path / "no-pins")   # ...which the pins do not know
    monkeypatch.setenv("REPRO_ARTIFACTS", str(tmp_path / "artifacts"))
    folder = tmp_path / "tasks" / "toy_reverse"
    (folder / "data").mkdir(parents=True)
    (folder / "__init__.py").write_text(TOY_TASK)
    words = ["abc", "hello", "peft", "lora", "code", "tiny"]
    for split, rows in (("train", words[:2]), ("test", words[2:])):
        (folder / "data" / f"{split}.jsonl").write_text(
            "".join(json.dumps({"text": w, "reversed": w[::-1]}) + "\n" for w in rows))
    (tmp_path / "toy.yaml").write_text(MANIFEST)
    before = tree_digest(REPRO)

    monkeypatch.syspath_prepend(str(folder.parent))
    import toy_reverse

    monkeypatch.setattr(tasks, "_extra", {})
    tasks.register(toy_reverse.TASK)  # the one registration line
    try:
        assert main(["reproduce", "--manifest", str(tmp_path / "toy.yaml"), "--out", str(tmp_path / "out"),
                     "-q"]) == 0
    finally:
        sys.modules.pop("toy_reverse", None)
        DATASETS.pop("toy-strings", None)

    run_dir = tmp_path / "out" / "toy-eval"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert [r["intent"] for r in rows] == words[2:] and [r["reference"] for r in rows] == [w[::-1] for w in words[2:]]
    # The toy scorer's number is what its rule gives on the written candidates.
    expected = 100.0 * sum(r["candidates"][0].strip() == r["intent"][::-1] for r in rows) / len(rows)
    assert metrics["toy/reversed"] == round(expected, 4) and "em@1" in metrics
    assert all("toy_reversed" in r for r in rows)
    # The toy stop rule was asked for every batch, and no candidate runs past a newline.
    assert toy_reverse.STOP_RULE_BUILT
    assert all("\n" not in c.rstrip("\n") for r in rows for c in r["candidates"])
    assert tree_digest(REPRO) == before

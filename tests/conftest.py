"""Shared test setup: offline hub, one thread (tiny-model steps are erratic with 2)."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a hard dependency
    pass


import pytest  # noqa: E402

# Files handed out first. `make test` gives whole files to two workers in collection order
# (`--dist loadfile --no-loadscope-reorder`). The smoke reproduction alone takes about 12
# minutes, so it goes first (when it started last, one core sat idle for most of them); the
# pins test goes next, so the other worker builds the tiny T5 while the smoke builds the tiny
# Llama; then the next-longest files.
LONGEST_FIRST = ("test_smoke_e2e.py", "test_pins.py", "test_shard.py", "test_crash.py")


def pytest_collection_modifyitems(items):
    """Put those files first (a stable sort: the order within and among the rest is kept)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))

ONE_LORA_TRAIN_RUN = """\
manifest_version: 1
study: t
defaults: {model: tiny-llama, dataset: conala-bundled, rq: smoke}
runs:
  - id: lora-train
    kind: train
    tuning: {method: lora, learning_rate: 0.005, max_steps: 3, batch_size: 4, max_length: 64}
"""


@pytest.fixture
def lora_train_manifest(tmp_path):
    """A manifest with one short LoRA train run (`lora-train`) on the tiny Llama."""
    path = tmp_path / "m.yaml"
    path.write_text(ONE_LORA_TRAIN_RUN)
    return path

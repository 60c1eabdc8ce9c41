"""Real-shape tests (`make test-shapes`): offline hub; torch uses every core.

The suite runs alone (its own CI step), so torch keeps its default of one thread per core;
`REPRO_SHAPES_THREADS=N` sets another count. Large tensors are allocated on transparent huge
pages (`THP_MEM_ALLOC_ENABLE`, read by torch's CPU allocator), which cuts the page-fault
time of allocating and freeing full-width weights again and again.
"""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import torch  # noqa: E402

if os.environ.get("REPRO_SHAPES_THREADS"):
    torch.set_num_threads(int(os.environ["REPRO_SHAPES_THREADS"]))

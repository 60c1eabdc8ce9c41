"""Real-shape tests (`make test-shapes`): offline hub; threads; each case's one-line summary.

The suite runs alone (its own CI step). `make test-shapes` runs it as two pytest-xdist workers
of one torch thread each (`REPRO_SHAPES_THREADS=1`); run by hand without xdist, torch keeps its
default of one thread per core. Large tensors are allocated on transparent huge
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


def pytest_runtest_logreport(report):
    """Print a case's summary (recorded by the test) as it ends, with or without xdist."""
    summary = dict(report.user_properties).get("summary")
    if report.when == "call" and summary:
        print(f"\n{summary}", flush=True)

"""Peak memory of one stage of one run, not of the process.

`ru_maxrss` is the process's high-water mark: after the largest run every later run reports it.
On a CPU a sampler thread reads the resident set size every few milliseconds while the stage
runs and keeps its maximum; on a GPU torch's peak counters are reset when the stage starts.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

SAMPLE_SECONDS = 0.02
CPU_KIND = "CPU: peak resident set size sampled during the stage (this run's own, incl. the Python process)"
GPU_KIND = "GPU: torch.cuda.max_memory_allocated during the stage (reset per stage)"


class RssSampler:
    """Maximum RSS (bytes) seen while running, sampled in a daemon thread."""

    def __init__(self, interval: float = SAMPLE_SECONDS):
        import psutil

        self.process, self.interval = psutil.Process(), interval
        self.peak = self.start = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        self.peak = max(self.peak, self.process.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


@contextmanager
def stage_peak():
    """Yields a dict filled, when the stage ends, with its peak memory figures (MB / GB) and their kind."""
    import torch

    figures: dict = {}
    on_gpu = torch.cuda.is_available()
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    with RssSampler() as rss:
        yield figures
    figures.update(peak_rss_mb=round(rss.peak / 2**20, 1), rss_at_start_mb=round(rss.start / 2**20, 1))
    if on_gpu:
        figures.update(peak_gpu_allocated_gb=round(torch.cuda.max_memory_allocated() / 1e9, 3),
                       peak_gpu_reserved_gb=round(torch.cuda.max_memory_reserved() / 1e9, 3))

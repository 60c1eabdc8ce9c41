"""EM@k as the paper scored it.

Candidates and the reference are cut at the stop strings, have newlines and tabs turned
into spaces and are stripped; a sample counts at k when its reference equals one of the
first k candidates. Per-sample hit ranks are kept so any k can be recomputed later.
"""
from __future__ import annotations

from typing import Sequence

MAX_K = 10


def cut_at_stops(text: str, stops: Sequence[str] = ()) -> str:
    """Text up to (not including) the earliest stop string."""
    end = len(text)
    for s in stops:
        if s:
            i = text.find(s)
            if i != -1:
                end = min(end, i)
    return text[:end]


def normalize(text: str, stops: Sequence[str] = ()) -> str:
    """Cut at stops, newlines and tabs to spaces, strip (the paper's comparison form)."""
    text = cut_at_stops(text, stops)
    return text.replace("\r", " ").replace("\n", " ").replace("\t", " ").strip()


def first_hit_rank(candidates: Sequence[str], reference: str, stops: Sequence[str] = ()) -> int | None:
    """1-based rank of the first candidate equal to the reference, or None."""
    ref = normalize(reference)
    for i, cand in enumerate(candidates, 1):
        if normalize(cand, stops) == ref:
            return i
    return None


def em_at_k(hit_ranks: Sequence[int | None], k: int) -> float:
    """Percentage of samples whose first hit rank is <= k."""
    if not 1 <= k <= MAX_K:
        raise ValueError(f"EM@k is defined for k in 1..{MAX_K} (the paper's 10 beam candidates), got k={k}")
    if not hit_ranks:
        return 0.0
    return 100.0 * sum(1 for r in hit_ranks if r is not None and r <= k) / len(hit_ranks)


def score(candidates_per_sample: Sequence[Sequence[str]], references: Sequence[str],
          stops: Sequence[str] = (), max_k: int = MAX_K) -> tuple[dict[str, float], list[int | None]]:
    """EM@1..max_k (percent) and the per-sample hit ranks."""
    if len(candidates_per_sample) != len(references):
        raise ValueError(f"one candidate list per reference is required: got "
                         f"{len(candidates_per_sample)} candidate lists and {len(references)} references")
    if not 1 <= max_k <= MAX_K:
        raise ValueError(f"max_k must be in 1..{MAX_K}, got {max_k}")
    ranks = [first_hit_rank(c, r, stops) for c, r in zip(candidates_per_sample, references)]
    return {f"em@{k}": round(em_at_k(ranks, k), 4) for k in range(1, max_k + 1)}, ranks

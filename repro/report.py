"""Reports: ours vs the paper as tables (tabulate) and the headline claims, from whatever runs exist."""
from __future__ import annotations

from pathlib import Path

from repro import records
from repro.compare import FAIL, claims_table, compare_all, evaluate_claims, verdict_table


def write_report(manifest, results: Path, out_dir: Path, fmt: str = "simple") -> int:
    rows = compare_all(manifest, results)
    claims = evaluate_claims(manifest, results)
    text = [f"# Report: {manifest.study} ({manifest.path})", "", "## Reference numbers", "",
            verdict_table(rows, "github") if rows else "(no reference numbers)", ""]
    if claims:
        text += ["## Headline claims", "", claims_table(claims, "github"), ""]
    records.write_atomic(Path(out_dir) / "report.md", "\n".join(text))
    print(verdict_table(rows, fmt) if rows else "(no reference numbers)")
    if claims:
        print("\n" + claims_table(claims, fmt))
    print(f"\nwrote {Path(out_dir) / 'report.md'}")
    return 1 if any(r["verdict"] == FAIL for r in rows) else 0

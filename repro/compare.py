"""Reading a run's numbers and printing verdict tables (the verdicts come from `repro.verdicts`).

`load_metrics` reads what a finished run measured; `verdict_table` and `claims_table` print
the cells and claims `repro.verdicts.evaluate` decided, as `repro reproduce` and `repro run`
show them after running.
"""
from __future__ import annotations

import json
from pathlib import Path


def load_metrics(results: Path, run_id: str) -> dict | None:
    """metrics.json merged with resources.json (peak memory, times: not byte-deterministic)."""
    p = Path(results) / run_id / "metrics.json"
    if not p.exists():
        return None
    out = json.loads(p.read_text())
    res = p.with_name("resources.json")
    if res.exists():
        out.update(json.loads(res.read_text()))
    return out


def basis_label(row: dict) -> str:
    from repro.verdicts import BASES

    return BASES.get(row.get("basis", "paper"), row.get("basis", "paper"))


def verdict_table(rows: list[dict], fmt: str = "simple", stale: set = frozenset()) -> str:
    """The verdict table; runs in `stale` were kept by --keep-stale and say so."""
    from tabulate import tabulate

    def num(v):
        return "—" if v is None else f"{v:.2f}"

    table = [[r["run"], r["metric"], basis_label(r), num(r["expected"]), num(r["obtained"]),
              "—" if r["delta"] is None else f"{r['delta']:+.2f}",
              "—" if r["tolerance"] is None else f"±{r['tolerance']:.2f}",
              r["verdict"] + (" (stale, kept)" if r["run"] in stale else "")]
             for r in rows]
    return tabulate(table, headers=["run", "metric", "reference is", "reference", "obtained", "Δ", "tolerance",
                                    "verdict"], tablefmt=fmt, disable_numparse=True)


def claims_table(claims: list[dict], fmt: str = "simple") -> str:
    from tabulate import tabulate

    rows = []
    for c in claims:
        rows.append([c["claim"], c["verdict"], c["text"] + (f" Caveat: {c['caveat']}" if c.get("caveat") else "")])
        rows += [["", chk["verdict"], f"{chk['note'] or 'check'}: {chk['details']}"] for chk in c["checks"]]
    return tabulate(rows, headers=["claim", "verdict", "statement / check: effect A - B and 95% interval"],
                    tablefmt=fmt, disable_numparse=True)

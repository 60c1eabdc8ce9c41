"""The one verdict path: cells, aggregates and claims as statistical statements.

Synthetic results built to reproduce the paper (tests/paper_synthetic.py) make every cell pass
and every claim hold; a copy with two methods' results swapped for one model fails the
affected cells and claims, and says why; `reproduce` and `report` agree on verdicts and exit
code, a metric missing from a finished run included.
"""
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from paper_synthetic import swap_runs, write_paper_results
from repro import records, stats
from repro.cli import main
from repro.manifest import load_manifest
from repro.verdicts import (FAIL, FAILS_NOISE, FAILS_SIG, HOLDS_NOISE, HOLDS_SIG, MISSING, NOT_RUN, PASS,
                            claim_verdict, evaluate)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def paper():
    return load_manifest(ROOT / "manifests" / "paper")


@pytest.fixture(scope="module")
def paper_results(paper, tmp_path_factory):
    out = tmp_path_factory.mktemp("paper-synthetic")
    write_paper_results(paper, out)
    return out


@pytest.fixture(scope="module")
def paper_verdicts(paper, paper_results):
    return evaluate(paper, paper_results)


def test_results_that_reproduce_the_paper_pass_every_cell_and_hold_every_claim(paper_verdicts):
    cells = [r for r in paper_verdicts.references if r["expected"] is not None]
    assert len(cells) == 357 - 5  # every number of the CSVs; five are reported twice (TOLERANCES.md)
    assert {r["verdict"] for r in cells} == {PASS}, [r for r in cells if r["verdict"] != PASS][:3]
    assert len(paper_verdicts.claims) == 6
    for claim in paper_verdicts.claims:
        assert claim["verdict"] in (HOLDS_SIG, HOLDS_NOISE), claim
        assert all(c["effect"] > 0 and c["interval"] is not None for c in claim["checks"]), claim["claim"]
    assert paper_verdicts.exit_code == 0


def test_claims_are_encoded_as_the_paper_states_them(paper):
    claims = {c["id"]: c for c in paper.claims}
    c4 = claims["c4-qlora-halves-memory-keeps-em"]["checks"]
    assert {"greater": {"value": 24.0}, "less": "rq2-codellama-34b-python-conala-qlora-4bit-train"}.items() \
        <= next(c for c in c4 if c["greater"] == {"value": 24.0}).items()
    assert any(c["greater"].get("factor") == 0.5 for c in c4 if isinstance(c["greater"], dict))
    c5 = claims["c5-lora-beats-icl-and-rag"]["checks"]   # PROTOCOL.md claim 5: 3 models x 2 datasets x {ICL, RAG}
    assert len(c5) == 12 and all(c["greater"].endswith("-lora") and "aggregate" in c["less"] for c in c5)
    c6 = claims["c6-lora-qlora-improve-apps-most-at-introductory"]["checks"]
    gains = [c for c in c6 if isinstance(c["greater"], dict) and "minus" in c["greater"]]
    assert len(gains) == 6 and all(c["greater"]["metric"] == "apps/introductory/avg" for c in gains)


def test_swapping_two_methods_fails_their_cells_and_claims(paper, paper_results, tmp_path):
    copy = tmp_path / "swapped"
    shutil.copytree(paper_results, copy)
    lora, prefix = "rq2-codellama-7b-conala-lora", "rq2-codellama-7b-conala-prefix-tuning"
    swap_runs(copy, lora, prefix)
    v = evaluate(paper, copy)
    cells = {(r["run"], r["metric"]): r for r in v.references}
    for run in (lora, prefix):
        for metric in ("em@1", "em@10"):
            assert cells[(run, metric)]["verdict"] == FAIL, cells[(run, metric)]
    assert cells[(lora, "em@10")]["delta"] == pytest.approx(19.52 - 39.31, abs=0.2)
    other = [r for r in v.references if r["run"] not in (lora, prefix) and r["verdict"] == FAIL]
    assert other == []
    claims = {c["claim"]: c for c in v.claims}
    c3 = claims["c3-lora-best-prefix-fails-on-large-models"]
    assert c3["verdict"] == FAILS_SIG
    failing = [c for c in c3["checks"] if c["verdict"] == FAILS_SIG]
    assert [c["note"] for c in failing] == ["conala: codellama-7b prefix tuning < lora"]
    assert failing[0]["interval"][1] < 0 and "A - B = -" in failing[0]["details"]
    c5 = claims["c5-lora-beats-icl-and-rag"]
    assert c5["verdict"] == FAILS_SIG
    assert {c["note"] for c in c5["checks"] if c["verdict"].startswith("fails")} == {
        "codellama-7b conala: LoRA > best ICL (best n of the five-seed means)",
        "codellama-7b conala: LoRA > best RAG (best n)"}
    assert claims["c6-lora-qlora-improve-apps-most-at-introductory"]["verdict"].startswith("holds")
    assert v.exit_code == 1
    assert f"{lora} em@10: FAIL" in v.failures and "claim c3-lora-best-prefix-fails-on-large-models: " \
        "fails (significant)" in v.failures
    from repro.report import build_sections

    sections, status = build_sections(paper, copy, "github", v)
    assert status == 1 and sections[-1][0] == "Verdict" and f"- {lora} em@10: FAIL" in sections[-1][1]


def test_report_marks_cells_that_cannot_discriminate_and_prints_statements(paper, paper_results, paper_verdicts,
                                                                          tmp_path):
    from repro.figures import ours_vs_paper
    from repro.report import build_sections

    sections, status = build_sections(paper, paper_results, "github", paper_verdicts)
    assert status == 0
    text = "\n".join(f"## {title}\n{body}" for title, body in sections)
    assert "## Cells that cannot discriminate" in text
    # IA3's 37.20 lies inside LoRA's band (39.31 +- 4.20) for CodeLlama-7B on Conala (Table 3).
    row = next(line for line in text.splitlines()
               if line.startswith("| rq2-codellama-7b-conala-lora ") and "| em@10 " in line)
    assert "ia3" in row and "prefix-tuning" not in row
    assert "Statement: LoRA beats ICL and RAG for the three CodeLlama-7B variants on both datasets." in text
    assert "paired bootstrap, 2000 resamples of 543 test samples" in text
    assert ours_vs_paper(paper_verdicts.references, paper, tmp_path).stat().st_size > 1000


# ------------------------------------------------------------------- the statistics ---

def test_paired_bootstrap_interval_matches_the_paired_standard_error(tmp_path):
    """For EM, A - B is the mean of per-sample differences d_i in {-1, 0, 1}: its standard error is
    sd(d)/sqrt(n) (any statistics text, e.g. Efron & Tibshirani 1993, ch. 2); the bootstrap's 95 %
    interval must be about +-1.96 of it around the observed difference."""
    n = 400
    rng = np.random.default_rng(0)
    b = rng.random(n) < 0.3
    a = b.copy()
    flip = rng.choice(n, 60, replace=False)
    a[flip[:45]] = True   # A gains some samples and loses others: a paired, not nested, difference
    a[flip[45:]] = False
    d = 100.0 * (a.astype(float) - b.astype(float))
    resamples = stats.PairedResamples()
    _, ma = resamples.means({str(i): 100.0 * a[i] for i in range(n)})
    _, mb = resamples.means({str(i): 100.0 * b[i] for i in range(n)})
    diffs = ma - mb
    assert diffs[0] == pytest.approx(d.mean())
    lo, hi = stats.interval(diffs)
    se = d.std(ddof=1) / math.sqrt(n)
    assert (hi - lo) / 2 == pytest.approx(1.96 * se, rel=0.1)
    assert lo < diffs[0] < hi


def test_claim_verdict_order():
    assert claim_verdict([HOLDS_SIG, HOLDS_SIG]) == HOLDS_SIG
    assert claim_verdict([HOLDS_SIG, HOLDS_NOISE]) == HOLDS_NOISE
    assert claim_verdict([HOLDS_SIG, NOT_RUN]) == NOT_RUN
    assert claim_verdict([FAILS_NOISE, NOT_RUN]) == FAILS_NOISE
    assert claim_verdict([FAILS_NOISE, FAILS_SIG]) == FAILS_SIG
    assert claim_verdict([FAILS_SIG, MISSING]) == MISSING


# ------------------------------------------------------- reproduce and report agree ---

SMALL = """\
manifest_version: 1
study: verdict-test
defaults: {model: tiny-llama, dataset: conala-bundled, metrics: [em]}
runs:
  - id: zero-shot
    reference: {em@10: {value: 10.0, tolerance: 5.0, source: paper}}
  - id: icl-n{prompting.n}
    prompting: {strategy: icl}
    matrix: {prompting.n: [1, 2]}
    reference: {em@10: {value: 30.0, tolerance: 5.0, source: paper}}
aggregates:
  - id: icl-best
    metric: em@10
    runs: [icl-n1, icl-n2]
    reference: {value: 50.0, tolerance: 1.0, source: paper}
claims:
  - id: icl-beats-zero-shot
    text: ICL beats zero-shot.
    checks:
      - {metric: em@10, greater: {aggregate: icl-best}, less: zero-shot}
  - id: icl-n2-beats-n1
    text: two examples beat one.
    checks:
      - {metric: em@10, greater: icl-n2, less: icl-n1}
"""


def _finished(results, run, em10_hits, n=20, metrics=None):
    """A finished run directory (metrics, per-sample records, run.json, SHA256SUMS) that resume
    treats as complete."""
    d = results / run.id
    d.mkdir(parents=True)
    ranks = [1 if i < em10_hits else None for i in range(n)]
    records.write_jsonl(d / "predictions.jsonl", [{"index": i, "em_rank": r} for i, r in enumerate(ranks)])
    records.write_json(d / "metrics.json", metrics if metrics is not None
                       else {"samples": n, "em@1": 100.0 * em10_hits / n, "em@10": 100.0 * em10_hits / n})
    from repro import freshness
    from repro.pipeline import _inputs

    records.write_json(d / "run.json", {"run_id": run.id, "config_hash": run.config_hash(),
                                        "freshness": freshness.identity(run, results, _inputs(run))})
    records.write_sums(d)


def _both(tmp_path, capsys, manifest_path, results):
    code_reproduce = main(["reproduce", "-m", str(manifest_path), "--out", str(results), "-q"])
    reproduce_out = capsys.readouterr().out
    code_report = main(["report", "-m", str(manifest_path), "--results", str(results), "--out", str(tmp_path / "r")])
    report_out = capsys.readouterr().out
    return code_reproduce, reproduce_out, code_report, report_out


def test_reproduce_and_report_give_the_same_verdicts_and_exit_code(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text(SMALL)
    m = load_manifest(path)
    results = tmp_path / "results"
    _finished(results, m.get("zero-shot"), 2)
    _finished(results, m.get("icl-n1"), 6)
    _finished(results, m.get("icl-n2"), 12)
    code_a, out_a, code_b, out_b = _both(tmp_path, capsys, path, results)
    assert "0 to do" in out_a
    # icl-n2's 60 % fails its cell (30 +- 5) and the aggregate (best = 60 vs 50 +- 1): both commands say so.
    assert code_a == code_b == 1
    v = evaluate(m, results)
    assert [r["verdict"] for r in v.references] == [PASS, PASS, FAIL, FAIL]
    for text in (out_a, out_b):
        assert "icl-best" in text and "SOME CHECKS FAIL" in text
        assert "icl-n2 em@10: FAIL" in text or ("icl-n2" in text and "FAIL" in text)


def test_a_metric_missing_from_a_finished_run_is_a_failure_in_both_commands(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text(SMALL.replace("value: 50.0, tolerance: 1.0", "value: 30.0, tolerance: 5.0"))
    m = load_manifest(path)
    results = tmp_path / "results"
    _finished(results, m.get("zero-shot"), 2)
    _finished(results, m.get("icl-n1"), 6)
    _finished(results, m.get("icl-n2"), 6, metrics={"samples": 20, "em@1": 30.0})   # no em@10
    v = evaluate(m, results)
    verdicts = {(r["run"], r["metric"]): r["verdict"] for r in v.references}
    assert verdicts[("icl-n2", "em@10")] == MISSING and verdicts[("icl-best", "em@10")] == MISSING
    assert {c["claim"]: c["verdict"] for c in v.claims} == {"icl-beats-zero-shot": MISSING,
                                                           "icl-n2-beats-n1": MISSING}
    code_a, out_a, code_b, out_b = _both(tmp_path, capsys, path, results)
    assert code_a == code_b == 1 and "missing" in out_a and "missing" in out_b
    # Without the broken run the same results pass in both commands.
    shutil.rmtree(results / "icl-n2")
    _finished(results, m.get("icl-n2"), 7)
    code_a, _, code_b, _ = _both(tmp_path, capsys, path, results)
    assert code_a == code_b == 0


def test_smoke_labels_say_what_each_reference_is(tmp_path, capsys):
    m = load_manifest(ROOT / "manifests" / "smoke.yaml")
    bases = {r.reference[k].get("basis") for r in m.runs for k in r.reference}
    assert bases == {"by-construction"}
    assert m.claims[0].get("caveat")
    results = tmp_path / "smoke"
    d = results / "apps-reference-solutions"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({"apps/overall/avg": 100.0, "apps-strict/overall/avg": 100.0}))
    assert main(["report", "-m", str(ROOT / "manifests" / "smoke.yaml"), "--results", str(results),
                 "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "by construction" in out and "reference is" in out and "paper/expected" not in out
    assert "Caveat: " + m.claims[0]["caveat"].split(".")[0] in out


def test_corpus_codebleu_is_bootstrapped_from_per_sample_sums(tmp_path):
    """Summed per-sample rows give exactly the corpus score the scorer computes; a claim on
    CodeBLEU gets a paired-bootstrap interval around it."""
    from repro.metrics.codebleu_paper import codebleu_from_totals, corpus_codebleu, sample_statistics

    refs = [f"x{i} = sorted(values[{i}:], key=len)" if i % 2 else f"for k in range({i}):\n    total += k"
            for i in range(40)]
    good = [r if i % 5 else r.replace("sorted", "list") for i, r in enumerate(refs)]
    bad = ["print(1)" if i % 3 else r for i, r in enumerate(refs)]
    assert codebleu_from_totals(np.array(sample_statistics(good, refs)).sum(axis=0)) == pytest.approx(
        corpus_codebleu(good, refs)["codebleu"], abs=1e-12)
    results = tmp_path / "results"
    for rid, preds in (("good", good), ("bad", bad)):
        d = results / rid
        d.mkdir(parents=True)
        records.write_jsonl(d / "predictions.jsonl", [{"index": i, "reference": r, "candidates": [p]}
                                                      for i, (p, r) in enumerate(zip(preds, refs))])
        records.write_json(d / "metrics.json", {"samples": 40, "codebleu": 100 * corpus_codebleu(preds, refs)["codebleu"]})
    path = tmp_path / "m.yaml"
    path.write_text("manifest_version: 1\nstudy: cb\ndefaults: {model: tiny-llama, dataset: conala-bundled, metrics: [em, codebleu]}\n"
                    "runs: [{id: good}, {id: bad}]\nclaims:\n  - id: c\n    text: good beats bad.\n"
                    "    checks: [{metric: codebleu, greater: good, less: bad}]\n")
    check = evaluate(load_manifest(path), results).claims[0]["checks"][0]
    expected = 100 * (corpus_codebleu(good, refs)["codebleu"] - corpus_codebleu(bad, refs)["codebleu"])
    assert check["effect"] == pytest.approx(expected, abs=1e-3)
    assert check["interval"][0] < check["effect"] < check["interval"][1]
    assert check["verdict"] == HOLDS_SIG and check["method"].startswith("paired bootstrap")

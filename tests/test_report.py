"""`repro report`: Tables 3 and 4 against the paper, aggregates, claims and figures from whatever runs exist."""
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from repro import records
from repro.cli import main
from repro.manifest import load_manifest
from repro.report import write_report

REPO = Path(__file__).resolve().parent.parent


def _write(results, run_id, metrics, resources=None):
    d = results / run_id
    d.mkdir(parents=True, exist_ok=True)
    (d / "metrics.json").write_text(json.dumps(metrics))
    if resources:
        (d / "resources.json").write_text(json.dumps(resources))


def test_paper_report_with_no_runs(tmp_path):
    m = load_manifest("manifests/paper")
    assert write_report(m, tmp_path / "results", tmp_path / "out") == 0
    text = (tmp_path / "out" / "report.md").read_text()
    assert "0 of 819 runs have results" in text
    # Tables 3 and 4 are declared in manifests/paper/rq2.yaml and rq4.yaml (`report_tables`).
    assert "## Table 3, conala" in text and "## Table 4, APPS" in text
    assert "| codellama-7b " in text and "39.31" in text and "not yet run" in text
    claims = text.split("## Headline claims")[1].split("## Figures")[0]
    heads = [line for line in claims.splitlines() if line.startswith("**c")]
    assert len(heads) == 6 and all(": not yet run (" in line for line in heads)
    assert claims.count("Statement: ") == 6
    figures = tmp_path / "out" / "figures"
    # Paper values exist for Figures 1 and 5; Figures 3 and 7 have no data before any run.
    assert (figures / "figure1_peak_memory.png").stat().st_size > 1000
    assert (figures / "figure5_qlora.png").exists()
    assert not (figures / "figure3_icl.png").exists() and not (figures / "figure7_rag.png").exists()
    assert (tmp_path / "out" / "report.txt").exists()


def test_paper_report_with_some_runs(tmp_path):
    m = load_manifest("manifests/paper")
    results = tmp_path / "results"
    _write(results, "rq2-codellama-7b-conala-lora", {"em@1": 30.07, "em@10": 40.0, "codebleu": 25.0})
    _write(results, "rq2-codellama-7b-python-conala-lora-train", {"trainable_parameters": 12_582_912},
           {"peak_memory_gb": 19.5})
    for run in m.runs:
        if run.id.startswith("rq1-codellama-7b-conala-icl-"):
            _write(results, run.id, {"em@10": 25.0 + run.config["prompting"]["n"] / 4})
    _write(results, "rq4-codellama-7b-instruct-apps-zero-shot",
           {f"apps/{d}/{k}": 1.0 for d in ("introductory", "interview", "competition")
            for k in ("avg", "pass@1", "pass@2", "pass@5")})
    code = write_report(m, results, tmp_path / "out")
    text = (tmp_path / "out" / "report.md").read_text()
    assert code == 1  # em@1 30.07 vs 20.07 is outside its tolerance
    conala = text.split("## Table 3, conala")[1]
    line = next(x for x in conala.splitlines() if x.startswith("| codellama-7b ") and "| lora " in x)
    assert "30.07" in line and "+10.00" in line and "FAIL" in line and "40.00" in line and "pass" in line
    # The best-ICL aggregate: n=16 mean 29.0 against the paper's 29.83.
    agg = next(x for x in text.splitlines() if "rq1-codellama-7b-conala-icl-best" in x)
    assert "29.00" in agg and "29.83" in agg and "pass" in agg
    assert "19.50" in text  # peak memory row (Figure 1)
    # Table 4: one row per run and difficulty (`each`), the paper's value beside ours.
    apps = text.split("## Table 4, APPS")[1].split("\n## ")[0]
    rows = [x for x in apps.splitlines() if x.startswith("| codellama-7b-instruct | none ")]
    assert [r.split("|")[3].strip() for r in rows] == ["introductory", "interview", "competition"]
    assert all("1.00" in r for r in rows)
    assert (tmp_path / "out" / "figures" / "figure3_icl.png").exists()
    # Deterministic text for the same results.
    write_report(m, results, tmp_path / "again")
    assert (tmp_path / "again" / "report.md").read_text() == text


def test_smoke_report_and_cli(tmp_path, capsys):
    results = tmp_path / "smoke"
    _write(results, "llama-zero-shot", {"em@10": 0.0, "em@1": 0.0})
    _write(results, "llama-lora-train", {"trainable_parameters": 49152}, {"peak_memory_gb": 0.64})
    _write(results, "llama-lora", {"em@10": 21.67, "em@1": 6.67})
    code = main(["report", "-m", "manifests/smoke.yaml", "--results", str(results), "--out", str(tmp_path / "r")])
    assert code == 0
    out = capsys.readouterr().out
    assert "smoke-lora-beats-zero-shot" in out and "holds" in out
    assert (tmp_path / "r" / "figures" / "figure1_peak_memory.png").exists()
    assert (tmp_path / "r" / "figures" / "figure3_icl.png").exists()
    _write(results, "llama-lora", {"em@10": 0.0})
    assert main(["report", "-m", "manifests/smoke.yaml", "--results", str(results), "--out", str(tmp_path / "r")]) == 1


# --- the report as a unit, and `repro verify` over it ---------------------------------------------

def _smoke_results(tmp_path):
    results = tmp_path / "smoke"
    _write(results, "llama-zero-shot", {"em@10": 0.0, "em@1": 0.0})
    _write(results, "llama-lora", {"em@10": 21.67, "em@1": 6.67})
    for run in ("llama-zero-shot", "llama-lora"):
        records.write_sums(results / run)
    return results


def _report_in_a_process_killed_after(results, out, killed_after: str):
    """`write_report` in a child process that SIGKILLs itself once `killed_after` is written."""
    code = textwrap.dedent(f"""
        import os, signal
        from repro import records, report
        from repro.manifest import load_manifest
        write = records.write_atomic
        def write_then_die(path, data):
            write(path, data)
            if os.path.basename(path) == {killed_after!r}:
                os.kill(os.getpid(), signal.SIGKILL)
        records.write_atomic = write_then_die
        report.write_report(load_manifest("manifests/smoke.yaml"), {str(results)!r}, {str(out)!r})
        """)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == -signal.SIGKILL, done.stderr


def test_a_killed_report_leaves_no_half_written_report(tmp_path, capsys):
    results = _smoke_results(tmp_path)
    out = results / "report"
    _report_in_a_process_killed_after(results, out, "report.md")
    assert not out.exists(), "no half-written report in place"
    left = [p.name for p in results.iterdir() if p.name.startswith(".report.") and p.name != ".report.lock"]
    assert left and all(p.endswith(".tmp") for p in left)
    assert main(["verify", str(results)]) == 0          # hidden build directory: not a result

    assert main(["report", "-m", "manifests/smoke.yaml", "--results", str(results)]) == 0
    assert [p.name for p in results.iterdir() if p.name.startswith(".report.")] == [".report.lock"], "swept"
    before = (out / "report.md").read_text()
    _report_in_a_process_killed_after(results, out, "report.txt")   # killed while replacing it
    assert (out / "report.md").read_text() == before and main(["verify", str(results)]) == 0
    capsys.readouterr()


def test_verify_checks_the_report(tmp_path, capsys):
    results = _smoke_results(tmp_path)
    assert main(["report", "-m", "manifests/smoke.yaml", "--results", str(results)]) == 0
    assert main(["verify", str(results)]) == 0
    report_md = results / "report" / "report.md"
    report_md.write_text(report_md.read_text().replace("21.67", "99.99"))
    capsys.readouterr()
    assert main(["verify", str(results)]) == 1
    assert "report/report.md: checksum differs" in capsys.readouterr().out
    (results / "report" / "SHA256SUMS").unlink()                      # as a report without its sums
    assert main(["verify", str(results)]) == 1
    printed = capsys.readouterr().out
    assert "report/report.md: not covered by any SHA256SUMS" in printed and "repro report" in printed


def test_report_refuses_a_directory_it_did_not_write(tmp_path, capsys):
    results = _smoke_results(tmp_path)
    for out in (results, results / "llama-lora"):                     # a results directory, a run
        before = sorted(p.name for p in out.iterdir())
        assert main(["report", "-m", "manifests/smoke.yaml", "--results", str(results), "--out", str(out)]) == 2
        assert "did not write" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == before

"""Every malformed manifest and flag is a clear error: exit 2, a message naming the file (or
flag), the run and field where there is one, and the fix; no traceback; nothing written.

Each case runs `repro list` and `repro reproduce --out <dir>`; the output directory must not
come into existence. The cases are written to break the loader, not taken from its output.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from repro.cli import main

REPO = Path(__file__).resolve().parent.parent

GOOD = textwrap.dedent("""\
    manifest_version: 1
    study: t
    defaults: {model: tiny-llama, dataset: conala-bundled, rq: RQ1}
    runs:
      - id: zs
      - id: lora-train
        kind: train
        tuning: {method: lora}
      - id: lora
        tuning: {method: lora}
        adapter_from: lora-train
        reference: {em@10: {value: 10.0, tolerance: 2.0, source: test}}
    """)


def with_run(extra: str) -> str:
    """GOOD plus one more run (YAML text indented as a list item)."""
    return GOOD + textwrap.indent(textwrap.dedent(extra), "  ")


def alias_bomb() -> str:
    lines = ["manifest_version: 1", "study: t", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\nruns: [{id: zs, model: tiny-llama, dataset: conala-bundled}]\n"


# (label, manifest text or bytes, words the message must hold: run, field, ...)
MANIFEST_CASES = [
    # values a matrix expands must pass the schema; the error names the matrix entry
    ("matrix unknown method", with_run("""\
        - id: m-{tuning.method}
          kind: train
          matrix: {tuning.method: [lora, bogus]}
        """), ["m-{tuning.method}", "matrix.tuning.method", "bogus"]),
    ("matrix negative learning rate", with_run("""\
        - id: m-{tuning.learning_rate}
          kind: train
          tuning: {method: lora}
          matrix: {tuning.learning_rate: [0.001, -1]}
        """), ["matrix.tuning.learning_rate", "-1"]),
    ("matrix learning rate text", with_run("""\
        - id: m-{tuning.learning_rate}
          kind: train
          tuning: {method: lora}
          matrix: {tuning.learning_rate: [fast]}
        """), ["matrix.tuning.learning_rate", "fast"]),
    ("matrix bogus kind", with_run("""\
        - id: m-{kind}
          matrix: {kind: [bogus]}
        """), ["matrix.kind", "bogus"]),
    ("matrix seed text", with_run("""\
        - id: m-{seed}
          matrix: {seed: [forty-two]}
        """), ["matrix.seed", "forty-two"]),
    ("matrix over a missing field", with_run("""\
        - id: m-{tuning.lora.rank}
          kind: train
          tuning: {method: lora}
          matrix: {tuning.lora.rank: [4, 8]}
        """), ["matrix.tuning.lora.rank", "names no field"]),
    ("matrix over a whole section", with_run("""\
        - id: m-x
          kind: train
          matrix: {tuning: [{method: lora}]}
        """), ["matrix.tuning", "whole section"]),
    ("matrix over the id", with_run("""\
        - id: m-{id}
          matrix: {id: [a, b]}
        """), ["matrix.id"]),
    ("matrix over the matrix", with_run("""\
        - id: m-{seed}
          matrix: {matrix: [1]}
        """), ["matrix.matrix"]),
    ("matrix value a mapping", with_run("""\
        - id: m-{prompting.n}
          prompting: {strategy: icl}
          matrix: {prompting.n: [{a: 1}]}
        """), ["matrix.prompting.n"]),
    ("matrix n over the limit", with_run("""\
        - id: m-{prompting.n}
          prompting: {strategy: icl}
          matrix: {prompting.n: [65]}
        """), ["matrix.prompting.n", "65"]),
    ("matrix with an empty list", with_run("""\
        - id: m-{seed}
          matrix: {seed: []}
        """), ["matrix.seed"]),
    ("matrix cross-field: icl n 0", with_run("""\
        - id: m-{prompting.n}
          prompting: {strategy: icl}
          matrix: {prompting.n: [0, 1]}
        """), ["m-0", "prompting.n", "matrix entry"]),
    ("matrix cross-field: more returns than beams", with_run("""\
        - id: m-{generation.num_return_sequences}
          matrix: {generation.num_return_sequences: [20]}
        """), ["generation.num_return_sequences", "matrix entry"]),
    ("matrix placeholder names no field", with_run("""\
        - id: m-{prompting.nn}
          prompting: {strategy: icl}
          matrix: {prompting.n: [1]}
        """), ["placeholder", "id"]),
    # run ids are checked after expansion
    ("matrix id escapes with ..", with_run("""\
        - id: x{notes}
          matrix: {notes: [/../../somewhere]}
        """), ["field 'id'", "letters, digits"]),
    ("matrix id with a slash", with_run("""\
        - id: x{notes}
          matrix: {notes: [a/b]}
        """), ["field 'id'"]),
    ("matrix id 400 characters", with_run("""\
        - id: x{notes}
          matrix: {notes: [%s]}
        """ % ("y" * 400)), ["field 'id'", "401 characters"]),
    ("matrix id with a space", with_run("""\
        - id: x{notes}
          matrix: {notes: ['a b']}
        """), ["field 'id'"]),
    ("matrix id with a NUL", with_run("""\
        - id: x{notes}
          matrix: {notes: ["a\\0b"]}
        """), ["field 'id'"]),
    ("matrix adapter_from escapes", with_run("""\
        - id: e-{notes}
          tuning: {method: lora}
          adapter_from: "lora-train{notes}"
          matrix: {notes: [/../../x]}
        """), ["field 'id'"]),
    # hostile or broken files
    ("non-UTF-8", b"manifest_version: 1\nstudy: t\n# caf\xe9\nruns: []\n", ["UTF-8"]),
    ("100k-deep nesting", "manifest_version: 1\nstudy: t\nruns: " + "[" * 100_000 + "]" * 100_000 + "\n",
     ["nests deeper", "limit"]),
    ("moderately deep nesting", "manifest_version: 1\nstudy: t\nruns: " + "[" * 40 + "]" * 40 + "\n",
     ["nests deeper", "limit"]),
    ("3 MB manifest", GOOD + "# " + "x" * (3 * 1024 * 1024) + "\n", ["bytes", "limit"]),
    ("alias bomb", alias_bomb(), ["more than", "values", "limit"]),
    ("duplicate top-level key", GOOD + "study: u\n", ["duplicate key 'study'"]),
    ("duplicate run key", GOOD.replace("  - id: zs\n", "  - id: zs\n    seed: 1\n    seed: 2\n"),
     ["duplicate key 'seed'"]),
    ("nan tolerance", GOOD.replace("tolerance: 2.0", "tolerance: .nan"), ["non-finite", "tolerance"]),
    ("inf value", GOOD.replace("value: 10.0", "value: .inf"), ["non-finite", "value"]),
    ("negative inf learning rate", GOOD.replace("tuning: {method: lora}\n  - id: lora\n",
                                                "tuning: {method: lora, learning_rate: -.inf}\n  - id: lora\n"),
     ["non-finite"]),
    ("yaml syntax", "manifest_version: 1\nstudy: [unclosed\n", ["line"]),
    ("empty file", "", ["mapping"]),
    ("a list, not a mapping", "- 1\n- 2\n", ["mapping"]),
    # metrics no run can produce
    ("reference to a metric not produced", GOOD.replace("em@10:", "bleu:"), ["lora", "reference.bleu", "produce"]),
    ("reference on a train run", GOOD.replace("    tuning: {method: lora}\n  - id: lora\n",
                                              "    tuning: {method: lora}\n    reference: {em@1: {value: 1, tolerance: 1}}\n"
                                              "  - id: lora\n"), ["lora-train", "reference.em@1"]),
    ("reference to apps metric of an em run", GOOD.replace("em@10:", "apps/overall/avg:"), ["reference.apps/overall/avg"]),
    ("claim over a metric not produced", GOOD + textwrap.dedent("""\
        claims:
          - id: c1
            text: lora beats zero-shot
            checks: [{metric: pass@1, greater: lora, less: zs}]
        """), ["claim 'c1'", "pass@1"]),
    ("claim over an unknown run", GOOD + textwrap.dedent("""\
        claims:
          - id: c1
            text: t
            checks: [{metric: em@10, greater: nope, less: zs}]
        """), ["nope"]),
    # the schema and cross-field checks on written runs
    ("unknown model", GOOD.replace("model: tiny-llama", "model: gpt-9"), ["field 'model'", "gpt-9"]),
    ("unknown field", GOOD.replace("  - id: zs\n", "  - id: zs\n    beams: 3\n"), ["beams"]),
    ("wrong type", GOOD.replace("value: 10.0", "value: ten"), ["reference.em@10.value"]),
    ("duplicate id", GOOD.replace("  - id: zs\n", "  - id: zs\n  - id: zs\n"), ["duplicate run id"]),
    ("adapter from an evaluation", GOOD.replace("adapter_from: lora-train", "adapter_from: zs"), ["adapter_from"]),
    ("written id with a leading dot", GOOD.replace("  - id: zs\n", "  - id: .zs\n"), ["field 'id'"]),
    ("manifest_version 2", GOOD.replace("manifest_version: 1", "manifest_version: 2"), ["manifest_version"]),
    ("study in capitals", GOOD.replace("study: t", "study: T!"), ["study"]),
    ("missing runs", "manifest_version: 1\nstudy: t\n", ["runs"]),
    ("qlora with wrong bits", with_run("""\
        - id: q-train
          kind: train
          tuning: {method: qlora-4bit, quantization: {bits: 8}}
        """), ["tuning.quantization.bits"]),
]


def _write(tmp_path: Path, content) -> Path:
    p = tmp_path / "bad.yaml"
    (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    return p


@pytest.mark.parametrize("label,content,needles", MANIFEST_CASES, ids=[c[0] for c in MANIFEST_CASES])
def test_malformed_manifest_is_a_clear_error(tmp_path, capsys, label, content, needles):
    path = _write(tmp_path, content)
    out = tmp_path / "out"
    for argv in (["list", "-m", str(path)], ["reproduce", "-m", str(path), "--out", str(out), "-q"]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (label, argv[0], err)
        assert "Traceback" not in err
        assert str(path) in err and "fix:" in err, err
        for needle in needles:
            assert needle in err, (needle, err)
        assert len(err) < 3000, f"message of {len(err)} characters"
    assert not out.exists()


def test_at_least_forty_cases():
    assert len(MANIFEST_CASES) + len(FLAG_CASES) >= 40


# (label, argv built from (manifest, out, tmp_path), words the message must hold)
FLAG_CASES = [
    ("--threads 0", lambda m, o, t: ["reproduce", "-m", m, "--out", o, "--threads", "0"], ["--threads", ">= 1"]),
    ("--threads -3", lambda m, o, t: ["run", "zs", "-m", m, "--out", o, "--threads", "-3"], ["--threads"]),
    ("--threads two", lambda m, o, t: ["reproduce", "-m", m, "--out", o, "--threads", "two"], ["--threads"]),
    ("--out is a file", lambda m, o, t: ["reproduce", "-m", m, "--out", str(t / "afile")], ["--out", "existing file"]),
    ("--expect-checksums missing", lambda m, o, t: ["reproduce", "-m", m, "--out", o, "--expect-checksums",
                                                    str(t / "nope.sha256")], ["--expect-checksums", "nope.sha256"]),
    ("--expect-checksums malformed", lambda m, o, t: ["reproduce", "-m", m, "--out", o, "--expect-checksums",
                                                      str(t / "afile")], ["--expect-checksums", "afile"]),
    ("--only matches nothing", lambda m, o, t: ["reproduce", "-m", m, "--out", o, "--only", "nothing*"], ["--only"]),
    ("--shard out of range", lambda m, o, t: ["reproduce", "-m", m, "--out", o, "--shard", "3/2"], ["--shard"]),
    ("--sandbox unknown", lambda m, o, t: ["reproduce", "-m", m, "--out", o, "--sandbox", "vm"], ["--sandbox"]),
    ("run of an unknown id", lambda m, o, t: ["run", "nope", "-m", m, "--out", o], ["nope"]),
    ("manifest path missing", lambda m, o, t: ["reproduce", "-m", str(t / "none.yaml"), "--out", o], ["none.yaml"]),
    ("manifest not yaml", lambda m, o, t: ["list", "-m", str(t / "afile")], ["afile", ".yaml"]),
    ("manifest dir without yaml", lambda m, o, t: ["list", "-m", str(t / "emptydir")], ["emptydir"]),
    ("verify a missing dir", lambda m, o, t: ["verify", str(t / "nodir")], ["nodir"]),
]


@pytest.mark.parametrize("label,argv,needles", FLAG_CASES, ids=[c[0] for c in FLAG_CASES])
def test_bad_flag_is_a_clear_error(tmp_path, capsys, label, argv, needles):
    manifest = tmp_path / "good.yaml"
    manifest.write_text(GOOD)
    (tmp_path / "afile").write_text("not a checksum line\n")
    (tmp_path / "emptydir").mkdir()
    out = tmp_path / "out"
    try:
        code = main(argv(str(manifest), str(out), tmp_path))
    except SystemExit as e:  # argparse rejects the flag itself
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, (label, err)
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)
    assert not out.exists()


def test_yml_files_in_a_manifest_directory_are_read(tmp_path, capsys):
    d = tmp_path / "dir"
    d.mkdir()
    (d / "a.yaml").write_text(GOOD)
    (d / "b.yml").write_text(GOOD.replace("id: zs", "id: zs2").replace("id: lora", "id: lora2"))
    assert main(["list", "-m", str(d), "-q"]) == 0
    assert " 6" in capsys.readouterr().out


def test_list_into_a_closed_pipe_is_quiet(tmp_path):
    manifest = tmp_path / "good.yaml"
    manifest.write_text(GOOD)
    proc = subprocess.run(f"{sys.executable} -m repro list -m {manifest} | head -c 1", shell=True,
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_reference_generation_keeps_text_that_looks_like_json():
    """Conala code may start with `[`; only APPS stores solutions as a JSON list."""
    from repro import tasks

    assert tasks.get("nl2code").reference_solutions({"code": "[x for x in y]"}, 1) == ["[x for x in y]"]
    assert tasks.get("apps").reference_solutions({"code": '["a", "b"]'}, 2) == ["a", "b"]

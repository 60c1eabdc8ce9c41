"""Manifest loading: valid manifests expand as written; bad ones fail with file, run, field and fix."""
import textwrap
from pathlib import Path

import pytest

from repro.cli import main
from repro.errors import ManifestError
from repro.manifest import load_manifest

REPO = Path(__file__).resolve().parent.parent

GOOD = """
manifest_version: 1
study: t
defaults: {model: tiny-llama, dataset: conala-bundled, rq: RQ1}
runs:
  - id: zs
  - id: icl-n{prompting.n}-s{prompting.seed}
    prompting: {strategy: icl}
    matrix: {prompting.n: [1, 2], prompting.seed: [42, 777]}
  - id: lora-train
    kind: train
    tuning: {method: lora}
  - id: lora
    tuning: {method: lora}
    adapter_from: lora-train
    reference: {em@10: {value: 10.0, tolerance: 2.0, source: test}}
"""


def write(tmp_path, text, name="m.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_smoke_manifest_loads():
    m = load_manifest(REPO / "manifests" / "smoke.yaml")
    assert m.study == "smoke" and len(m.runs) >= 3
    assert len({r.id for r in m.runs}) == len(m.runs)


def test_defaults_matrix_and_paper_settings(tmp_path):
    m = load_manifest(write(tmp_path, GOOD))
    ids = [r.id for r in m.runs]
    assert ids == ["zs", "icl-n1-s42", "icl-n1-s777", "icl-n2-s42", "icl-n2-s777", "lora-train", "lora"]
    icl = m.get("icl-n2-s777").config
    assert icl["prompting"] == {**icl["prompting"], "strategy": "icl", "n": 2, "seed": 777}
    train = m.get("lora-train").config
    assert train["tuning"]["learning_rate"] == 3e-4           # the paper's LoRA rate
    assert train["tuning"]["lora"]["r"] == 16 and train["tuning"]["lora"]["alpha"] == 32
    zs = m.get("zs").config
    assert zs["generation"]["max_new_tokens"] == 64 and zs["generation"]["stop"] == ["\n"]
    assert zs["generation"]["num_beams"] == 10 and zs["generation"]["num_return_sequences"] == 10
    assert m.get("zs").config_hash() != m.get("lora").config_hash()
    assert [r.id for r in m.select(only="lora")] == ["lora-train", "lora"]  # the train run it needs comes along


BAD = [
    ("unknown model", GOOD.replace("model: tiny-llama", "model: gpt-9"), "zs", "model", "gpt-9"),
    ("bad enum", GOOD.replace("method: lora}\n    adapter", "method: lora2}\n    adapter"), "lora", "tuning.method", "one of"),
    ("unknown field", GOOD.replace("  - id: zs\n", "  - id: zs\n    beams: 3\n"), "zs", "beams", "beams"),
    ("wrong type", GOOD.replace("value: 10.0", "value: ten"), "lora", "reference.em@10.value", "number"),
    ("duplicate id", GOOD.replace("  - id: zs\n", "  - id: zs\n  - id: zs\n"), "zs", "id", "duplicate"),
    ("placeholder-free matrix", GOOD.replace("icl-n{prompting.n}-s{prompting.seed}", "icl"), "icl", "id", "placeholder"),
    ("adapter of an evaluation", GOOD.replace("adapter_from: lora-train", "adapter_from: zs"), "lora", "adapter_from", "not a train run"),
    ("tuned eval without weights", GOOD.replace("    adapter_from: lora-train\n", ""), "lora", "adapter_from", "must name"),
    ("icl with n=0", GOOD.replace("[1, 2]", "[0, 2]"), "icl-n0-s42", "prompting.n", "at least one"),
    ("missing runs", "manifest_version: 1\nstudy: t\n", None, "(top level)", "runs"),
]


@pytest.mark.parametrize("label,text,run,field,needle", BAD, ids=[b[0] for b in BAD])
def test_bad_manifests_name_file_run_field_and_fix(tmp_path, label, text, run, field, needle):
    p = write(tmp_path, text)
    with pytest.raises(ManifestError) as e:
        load_manifest(p)
    err = e.value
    assert err.file == str(p)
    assert err.run == run
    assert err.field == field
    assert err.fix
    assert needle in err.render()


def test_bad_yaml_names_line(tmp_path):
    p = write(tmp_path, "manifest_version: 1\nstudy: [unclosed\n")
    with pytest.raises(ManifestError, match="line"):
        load_manifest(p)


def test_cli_exits_2_and_writes_nothing(tmp_path, capsys):
    p = write(tmp_path, GOOD.replace("model: tiny-llama", "model: gpt-9"))
    out = tmp_path / "results"
    code = main(["reproduce", "--manifest", str(p), "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert str(p) in err and "field 'model'" in err and "fix:" in err
    assert not out.exists()


def test_cli_list_counts_per_rq(tmp_path, capsys):
    assert main(["list", "--manifest", str(write(tmp_path, GOOD)), "-q"]) == 0
    out = capsys.readouterr().out
    assert "RQ1" in out and "total" in out and " 7" in out

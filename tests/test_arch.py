"""Architecture facts and `repro arch-check`: the paper models at full size on the meta device."""
import pytest
import yaml

from repro import arch
from repro.cli import main
from repro.manifest import load_manifest

LORA = {"r": 16, "alpha": 32, "dropout": 0.05, "bias": "none", "target_modules": None}


def test_printing_rules_are_the_papers_own_examples():
    # Table 3 (manifests/paper/source/table3_rq2_peft.csv): CodeLlama-7B LoRA printed 12.5M,
    # CodeT5+-220m LoRA printed 2.7M. LoRA adds r x (in + out) per adapted linear layer:
    # CodeLlama-7B q,k,v in 32 layers of width 4096; CodeT5+-220m q,k,v in 12 encoder
    # self-attention, 12 decoder self- and 12 cross-attention blocks of width 768.
    codellama = 32 * 3 * 16 * (4096 + 4096)
    codet5 = 36 * 3 * 16 * (768 + 768)
    assert (codellama, codet5) == (12_582_912, 2_654_208)
    assert arch.printing_rule(codellama, "12.5M") == "truncation"
    assert arch.printing_rule(codet5, "2.7M") == "rounding"
    assert arch.printing_rule(codet5, "2.6M") == "truncation"  # either rule is accepted
    assert arch.printing_rule(codet5, "2.8M") is None and arch.printing_rule(codellama, "12.7M") is None
    assert arch.printing_rule(30_720, "0.03M") == "rounding"


@pytest.mark.parametrize("key, total", [
    # Totals from the model cards (the second study's registry counts for the same architectures)
    # and CodeLlama-7B's 6,738,546,688 (Meta's 7B; 32016 x 4096 embedding and head included).
    ("codegen-350m-mono", 356_712_448), ("codegen2-1b", 1_015_306_240), ("codegen2-3.7b", 3_641_174_016),
    ("codegen2-7b", 6_862_858_240), ("codellama-7b", 6_738_546_688)])
def test_published_configs_give_the_published_totals(key, total):
    model = arch.build_on_meta(arch.MODELS[key], arch.hf_config(key))
    assert arch.count_parameters(model)[1] == total
    assert next(model.parameters()).device.type == "meta"


def test_prefix_tuning_on_grouped_query_attention(tmp_path):
    """CodeLlama-34B: 64 query heads, 8 key/value heads of 128 -> prefixes of 1024 per layer."""
    tok = arch.init_text_tokenizer(tmp_path)
    model = arch.adapted_on_meta("codellama-34b-python", "prefix-tuning", {"num_virtual_tokens": 10}, tok)
    assert arch.count_parameters(model)[0] == 10 * 2 * 48 * 8 * 128


def test_arch_check_matches_every_table3_cell():
    import csv

    with open("manifests/paper/source/table3_rq2_peft.csv", encoding="utf-8") as fh:
        table3 = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    rows = arch.check_manifest(load_manifest("manifests/paper/rq2.yaml"))
    printed = {(arch.MODELS[r["model"]].hub_id, r["method"]): r for r in rows if r["printed"]}
    assert sorted(printed) == sorted((t["model"], t["method"]) for t in table3)
    assert all(printed[(t["model"], t["method"])]["printed"] == t["trainable_params"] for t in table3)
    assert all(r["ok"] for r in rows), [r for r in rows if not r["ok"]]
    rules = {(r["model"], r["method"]): r["rule"] for r in rows}
    assert rules[("codellama-7b", "lora")] == "truncation" and rules[("codet5p-220m", "lora")] == "rounding"
    assert rules[("codet5p-220m", "full-ft")].startswith("nominal")


def test_arch_check_fails_on_a_wrong_target_module_list(tmp_path, capsys):
    """LoRA on q,k,v,o instead of q,k,v: 16.8M trainable parameters, not the printed 12.5M."""
    doc = {"manifest_version": 1, "study": "arch-check-test", "runs": [{
        "id": "codellama-7b-lora-train", "kind": "train", "model": "codellama-7b", "dataset": "conala",
        "tuning": {"method": "lora", "lora": {**LORA, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}},
        "reference": {"trainable_parameters": {"value": 12_500_000, "tolerance": 100_000, "printed": "12.5M"}}}]}
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["arch-check", "-m", str(path)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "codellama-7b-lora-train" in out and "16,777,216" in out


@pytest.mark.parametrize("key, tied", [("codet5p-220m", True), ("codegen-350m-mono", False)])
def test_shape_base_keeps_the_published_embedding_tying(key, tied, tmp_path):
    """A saved random base reloads with the published tying (config `tie_word_embeddings`) and
    the published parameter count of its depth, as the meta-device build has it."""
    import warnings

    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    from repro.registry import MODELS
    from repro.shapes import shape_base

    base = shape_base(key, 1, tmp_path / "base", dtype="float32")
    auto = AutoModelForSeq2SeqLM if MODELS[key].is_seq2seq else AutoModelForCausalLM
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = auto.from_pretrained(base)
    same = model.get_input_embeddings().weight.data_ptr() == model.get_output_embeddings().weight.data_ptr()
    assert same is tied
    on_meta = arch.build_on_meta(MODELS[key], arch.hf_config(key, 1))
    assert sum(p.numel() for p in model.parameters()) == arch.count_parameters(on_meta)[1]

"""The authors' two code versions (repro/code_versions.py): the exact text each version
produces for fixture rows, the ICL draw, APPS training and BOS tokens, the loss mask, the cut,
and how a manifest resolves `code_version`.

Expected texts are written from the authors' source (martin-wey/peft-llm-code): `pe:` lines
are the files at commit c55e532, `tosem:` lines the files on branch `revision`.
"""
from __future__ import annotations

import json
import random
import textwrap

import pytest

from repro import code_versions as cv
from repro.prompts import build_prompts, draw_icl_examples, training_pairs

ROW = {"intent": "sort list x", "code": " sorted(x) \n"}
EXAMPLES = [("add a and b", "a + b"), ("print hi", "print('hi')")]
SPACES = " " * 32  # pe: test.py:93-94, the indent of the continued f-string line


def test_every_difference_names_its_source_for_the_versions_it_has():
    for name, d in cv.DIFFERENCES.items():
        if d.paper_era is not None:
            assert "pe:" in d.source, name
        assert "tosem:" in d.source, name
    with pytest.raises(ValueError, match="unknown code version"):
        cv.setting("v3", "stop")


# --- evaluation prompts --------------------------------------------------------------------

def test_paper_era_prompts():
    # pe: test.py:86 (instruction line), 93-94 (examples), 98 (the sample), -1 ICL examples = tuned
    head = "Generate Python code given a natural language instruction."
    sample = "\n### Instruction:\nsort list x\n### Response:\n"
    assert cv.eval_prompt("paper-era", ROW["intent"], tuned=False) == head + sample
    shots = (f"\n### Instruction:\nadd a and b{SPACES}\n### Response:\na + b\n"
             f"\n### Instruction:\nprint hi{SPACES}\n### Response:\nprint('hi')\n")
    assert cv.eval_prompt("paper-era", ROW["intent"], EXAMPLES, tuned=False) == head + shots + sample
    assert cv.eval_prompt("paper-era", ROW["intent"], tuned=True) == sample
    # pe: test.py:102-103, CodeT5+ gets T5's sentinel
    assert cv.eval_prompt("paper-era", ROW["intent"], tuned=True, seq2seq=True) == sample + "<extra_id_0>"


def test_tosem_prompts():
    # tosem: test.py:65-66 (fenced examples), 91 (the sample, ending in an opening fence)
    sample = "### Instruction:\nsort list x\n### Response:\n```python\n"
    assert cv.eval_prompt("tosem", ROW["intent"], tuned=False) == sample
    assert cv.eval_prompt("tosem", ROW["intent"], tuned=True) == sample
    shots = ("### Instruction:\nadd a and b\n### Response:\n```python\na + b\n```\n\n"
             "### Instruction:\nprint hi\n### Response:\n```python\nprint('hi')\n```\n\n")
    assert cv.eval_prompt("tosem", ROW["intent"], EXAMPLES, tuned=False) == shots + sample


def test_build_prompts_uses_the_run_version_and_keeps_the_draw_order():
    train = [{"intent": f"intent {i}", "code": f"code_{i}()"} for i in range(40)]
    prompting = {"strategy": "icl", "n": 4, "seed": 42, "template": "instruction", "system_line": None}
    prompts, chosen = build_prompts([ROW], train, prompting, system_line=True, code_version="tosem")
    assert chosen == [[7, 1, 17, 15]]
    assert prompts[0].startswith("### Instruction:\nintent 7\n### Response:\n```python\ncode_7()\n```\n\n"
                                 "### Instruction:\nintent 1\n")


# --- ICL draw ------------------------------------------------------------------------------

# Both versions (pe: main.py `set_seed(args.seed)`, test.py:90; tosem: test.py:59):
# `transformers.set_seed(seed)` runs `random.seed(seed)` (transformers/trainer_utils.py,
# set_seed), then `random.sample(range(len(train)), n)`, used in the order drawn. These lists
# are what that sequence gives for 40 training rows and n = 4 (computed by running it).
PINNED_DRAWS = {42: [7, 1, 17, 15], 777: [14, 28, 23, 36], 5432: [11, 32, 30, 29],
                55555: [4, 11, 17, 37], 97: [12, 27, 23, 3]}


@pytest.mark.parametrize("seed", sorted(PINNED_DRAWS))
def test_icl_draw_is_random_sample_after_set_seed(seed):
    from transformers import set_seed

    train = [{"intent": f"i{k}", "code": f"c{k}"} for k in range(40)]
    assert draw_icl_examples(train, 4, seed) == PINNED_DRAWS[seed]
    set_seed(seed)
    assert draw_icl_examples(train, 4, seed) == random.sample(range(40), 4)


def test_icl_draw_skips_rows_without_intent_or_code_like_the_authors_filter():
    # pe/tosem: utils.py / data_utils.py load_conala_train_dataset drop nl or cmd None first
    train = [{"intent": None, "code": "x"}] + [{"intent": f"i{k}", "code": f"c{k}"} for k in range(40)]
    assert draw_icl_examples(train, 4, 42) == [k + 1 for k in PINNED_DRAWS[42]]


# --- training text and loss mask -------------------------------------------------------------

def test_training_text_per_version():
    # pe: train.py:149 prompt, 146 code + EOS (appended by repro.train.encode_example)
    assert cv.training_pair("paper-era", ROW["intent"], ROW["code"]) == {
        "prompt": "### Instruction:\nsort list x\n### Response:\n", "target": ROW["code"]}
    # tosem: train.py:72, the response stripped
    assert cv.training_pair("tosem", ROW["intent"], ROW["code"]) == {
        "text": "### Instruction:\nsort list x\n### Response:\n```python\nsorted(x)\n```"}
    # both: the seq2seq preprocess (pe: train.py:161, tosem: train.py:88)
    assert cv.training_pair("tosem", ROW["intent"], "x", seq2seq=True) == {
        "prompt": "Generate Python code: ### Instruction:\nsort list x\n### Response:\n", "target": "x"}


def llama_tokenizer(pad_is_eos: bool = False):
    """transformers' Llama tokenizer class (Metaspace pre-tokenizer, `<s>`/`</s>` special tokens)
    on a one-character vocabulary, with `add_bos_token=True` as CodeLlama's tokenizer_config sets."""
    from transformers import LlamaTokenizer

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for ch in "▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789[]/`:_\n.,()=+-#<>{}'\" ":
        vocab.setdefault(ch, len(vocab))
    tok = LlamaTokenizer(vocab=vocab, merges=[], add_bos_token=True)
    tok.pad_token = tok.eos_token if pad_is_eos else tok.unk_token
    return tok


def test_completion_only_mask_is_through_the_last_response_template():
    tok = llama_tokenizer()
    text = cv.training_pair("tosem", ROW["intent"], ROW["code"])["text"]
    enc = cv.encode_text(tok, text, 512)
    learned = [t for t, l in zip(enc["input_ids"], enc["labels"]) if l != -100]
    # tosem: train.py:107-108 the template `\n```python` minus its first two ids; the loss
    # starts right after `python` (utils.py:92, the collator copied from trl)
    assert tok.decode(learned) == "\nsorted(x)\n```"
    assert enc["input_ids"][0] == tok.bos_token_id


def test_pad_ids_are_not_learned_when_pad_is_eos():
    # DataCollatorForLanguageModeling labels pad ids -100; CodeLlama has no pad, so the
    # authors set pad = eos (utils.py load_model_and_tokenizer) and `</s>` is never learned.
    row = {"problem_id": 1, "question": "Add.", "solutions": json.dumps(["print(1)"]), "input_output": "{}"}
    text = cv.apps_training_pairs("tosem", [row], random.Random(0))[0]["text"]
    for pad_is_eos, last in ((False, 2), (True, -100)):
        enc = cv.encode_text(llama_tokenizer(pad_is_eos), text, 1024)
        assert enc["input_ids"][-1] == 2 and enc["labels"][-1] == last


# --- APPS ------------------------------------------------------------------------------------

CALL_BASED = {"problem_id": 7, "question": "Return the sum of a and b.",
              "starter_code": "class Solution:\n    def add(self, a, b):\n",
              "input_output": json.dumps({"fn_name": "add", "inputs": [[1, 2]], "outputs": [3]}),
              "solutions": json.dumps(["class Solution:\n    def add(self, a, b):\n        return a + b\n",
                                       "class Solution:\n    def add(self, a, b):\n        return b + a  \n"])}
GUIDE = ("[INST] Write a python code to solve the following coding problem that obeys the constraints and "
         "passes the example test cases. The output code needs to use the provided function signature:\n"
         "Return the sum of a and b.\n[/INST]\n```python\n")


def test_apps_training_text_has_no_starter_code_a_seeded_solution_a_fence_and_eos():
    # tosem: train.py:60 random.choice over the solutions, the text per PROTOCOL.md's table
    pairs = cv.apps_training_pairs("tosem", [CALL_BASED] * 5, random.Random(3))
    from transformers import set_seed

    set_seed(3)
    expected = [random.choice([0, 1]) for _ in range(5)]
    assert [p["solution_index"] for p in pairs] == expected
    sols = json.loads(CALL_BASED["solutions"])
    for p in pairs:
        assert p["text"] == GUIDE + sols[p["solution_index"]].strip() + "\n```</s>"
    with pytest.raises(ValueError, match="only in the tosem"):
        cv.apps_training_pairs("paper-era", [CALL_BASED], random.Random(0))


def test_call_based_header_appears_once_in_training_and_once_in_the_test_prompt():
    header = "def add(self, a, b):"
    for pair in cv.apps_training_pairs("tosem", [CALL_BASED], random.Random(0)):
        assert pair["text"].count(header) == 1
    prompt = cv.apps_test_prompt(CALL_BASED)
    assert prompt.count(header) == 1 and prompt.endswith(CALL_BASED["starter_code"])


def test_apps_bos_tokens_as_the_authors_code_produced_them():
    """Tokenizer behaviour (transformers/tokenizers): text matching a special token's content
    (`<s>`, `</s>`) becomes that token's id, and `add_special_tokens=True` (the default their
    `tokenizer(...)` calls use) adds one BOS in front. So the test prompt, which starts with a
    literal `<s>` (tosem: test.py:94), carries two BOS ids; the training text (no literal `<s>`,
    a literal `</s>` at its end) carries one BOS and ends with EOS."""
    tok = llama_tokenizer()
    row = {"question": "Add.", "starter_code": "", "input_output": "{}", "solutions": json.dumps(["print(1)"])}
    test_ids = tok(cv.apps_test_prompt(row))["input_ids"]
    train_ids = tok(cv.apps_training_pairs("tosem", [row], random.Random(0))[0]["text"])["input_ids"]
    # Pinned (recorded on this tokenizer): the ids of `<s><s>[INST]` ... `\n```python\n` and
    # of `<s>▁[INST]` ... `t(1)\n```</s>`; 1 is `<s>`, 2 is `</s>`.
    assert test_ids[:8] == [1, 1, 66, 38, 43, 48, 49, 67]
    assert test_ids[-11:] == [72, 69, 69, 69, 19, 28, 23, 11, 18, 17, 72]
    assert len(test_ids) == 213
    assert train_ids[:8] == [1, 3, 66, 38, 43, 48, 49, 67]
    assert train_ids[-9:] == [23, 75, 57, 76, 72, 69, 69, 69, 2]
    assert len(train_ids) == 226
    assert test_ids.count(tok.bos_token_id) == 2 and train_ids.count(tok.bos_token_id) == 1


# --- cut -------------------------------------------------------------------------------------

def test_cut_rules():
    # pe: test.py:139 strip, then split at the stops: a leading newline does not empty it
    assert cv.cut_candidate("\nfoo()\nbar", ["\n"], "strip-then-cut") == "foo()"
    # tosem: test.py:195 split at the fence, then strip
    assert cv.cut_candidate("  x = 1\n```\nmore", ["```"], "cut-then-strip") == "x = 1"


# --- manifests -------------------------------------------------------------------------------

def manifest(tmp_path, runs: str, **kw):
    from repro.manifest import load_manifest

    p = tmp_path / "m.yaml"
    p.write_text("manifest_version: 1\nstudy: t\ndefaults: {model: tiny-llama, dataset: conala-bundled}\nruns:\n"
                 + textwrap.indent(textwrap.dedent(runs), "  "))
    return load_manifest(p, **kw)


def test_manifest_resolves_what_the_version_decides(tmp_path):
    m = manifest(tmp_path, """\
        - {id: pe}
        - {id: tosem, code_version: tosem, kind: train, tuning: {method: lora}}
        - {id: apps, dataset: apps-bundled, prompting: {template: apps-codellama}}
        - {id: java, dataset: methods2test-bundled, prompting: {template: completion}}
        """)
    pe, tosem, apps, java = (m.get(i).config for i in ("pe", "tosem", "apps", "java"))
    assert (pe["code_version"], pe["generation"]["stop"], pe["generation"]["cut"]) == ("paper-era", ["\n"], "strip-then-cut")
    assert pe["tuning"]["precision"] == cv.precision_policy("paper-era") in ("fp16", "paper-era")
    assert pe["tuning"]["quantization"]["compute_dtype"] == "float16"
    assert (tosem["generation"]["stop"], tosem["generation"]["cut"]) == (["```"], "cut-then-strip")
    assert tosem["tuning"]["precision"] == cv.precision_policy("tosem") in ("bf16", "tosem")
    assert tosem["tuning"]["quantization"]["compute_dtype"] == "bfloat16"
    assert tosem["tuning"]["lora"]["target_modules"] == list(cv.LLAMA_ALL_LINEAR)
    assert apps["code_version"] == "tosem" and apps["generation"]["cut"] is None
    assert java["code_version"] is None


def test_override_applies_where_the_version_can_run(tmp_path):
    runs = """\
        - {id: icl, prompting: {strategy: icl, n: 1}}
        - {id: rag, code_version: tosem, prompting: {strategy: rag, n: 1}}
        """
    m = manifest(tmp_path, runs, code_version="tosem")
    assert m.get("icl").config["code_version"] == "tosem"
    m = manifest(tmp_path, runs, code_version="paper-era")
    assert m.get("icl").config["code_version"] == "paper-era"
    assert m.get("rag").config["code_version"] == "tosem"  # RAG exists only in the revision


@pytest.mark.parametrize("runs, message", [
    ("- {id: r, prompting: {strategy: rag, n: 1}}", "rag prompting exists only in the tosem"),
    ("- {id: a, code_version: paper-era, dataset: apps-bundled, prompting: {template: apps-codellama}}",
     "APPS exists only in the tosem"),
    ("- {id: j, code_version: tosem, dataset: methods2test-bundled, prompting: {template: completion}}",
     "has no code version"),
])
def test_manifest_rejects_what_a_version_cannot_run(tmp_path, runs, message):
    from repro.errors import ManifestError

    with pytest.raises(ManifestError, match=message):
        manifest(tmp_path, runs + "\n")


def test_list_shows_each_runs_code_version(tmp_path, capsys):
    from repro.cli import main

    (tmp_path / "m.yaml").write_text(
        "manifest_version: 1\nstudy: t\ndefaults: {model: tiny-llama, dataset: conala-bundled}\n"
        "runs:\n  - {id: a}\n  - {id: b, code_version: tosem}\n")
    assert main(["list", "-m", str(tmp_path / "m.yaml")]) == 0
    out = capsys.readouterr().out
    assert "code" in out and "paper-era" in out and "tosem" in out
    assert main(["list", "-m", str(tmp_path / "m.yaml"), "--code-version", "tosem"]) == 0
    assert "paper-era" not in capsys.readouterr().out


def test_training_pairs_route_versioned_templates():
    rows = [{"intent": "a", "code": "b"}]
    assert training_pairs(rows, "instruction", "tosem")[0] == {"text": "### Instruction:\na\n### Response:\n```python\nb\n```"}
    assert training_pairs(rows, "completion", None)[0] == {"prompt": "a", "target": "b"}


def test_paper_manifest_names_a_version_per_rq_and_says_why():
    from pathlib import Path

    from repro.manifest import load_manifest

    root = Path(__file__).resolve().parent.parent
    m = load_manifest(root / "manifests" / "paper")
    want = {"RQ1": "paper-era", "RQ2": "paper-era", "RQ3": "tosem", "RQ4": "tosem"}
    assert {r.rq: r.config["code_version"] for r in m.runs} == want
    for name in ("rq1", "rq2", "rq3", "rq4"):
        header = (root / "manifests" / "paper" / f"{name}.yaml").read_text().split("manifest_version")[0]
        assert f"code_version {want[name.upper()]}:" in header
    assert "| RQ4 |" in (root / "docs" / "CODE_VERSIONS.md").read_text()

"""Model and dataset registry: every model and dataset a manifest may name.

A manifest refers to models and datasets by key; this module says what each key is
(hub id, pinned revision, architecture, PEFT target modules, prompt fields, limits).
Revisions are `None` until `repro lock` pins them on a networked machine; the command
line applies the lock file (`apply_input_lock`) before any command, importing changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    key: str
    hub_id: str | None              # None for tiny local stand-ins
    architecture: str               # "causal" | "seq2seq"
    family: str                     # "llama" | "codegen" | "codegen2" | "t5"
    lora_targets: tuple[str, ...]
    ia3_targets: tuple[str, ...]
    ia3_feedforward: tuple[str, ...]
    dtype: str = "float16"
    trust_remote_code: bool = False
    parameters: float = 0.0         # approximate parameter count (for `repro plan`)
    revision: str | None = None
    tiny: bool = False              # built locally by repro.tiny_models

    @property
    def is_seq2seq(self) -> bool:
        return self.architecture == "seq2seq"


_LLAMA = dict(family="llama", lora_targets=("q_proj", "k_proj", "v_proj"),
              ia3_targets=("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "down_proj"),
              ia3_feedforward=("gate_proj", "up_proj", "down_proj"))
_CODEGEN = dict(family="codegen", lora_targets=("qkv_proj",),
                ia3_targets=("qkv_proj", "fc_in", "fc_out"), ia3_feedforward=("fc_in", "fc_out"))
_T5 = dict(family="t5", lora_targets=("q", "k", "v"),
           ia3_targets=("q", "k", "v", "wi", "wo"), ia3_feedforward=("wi", "wo"))


def _m(key, hub_id, architecture, params, template, **kw) -> ModelSpec:
    return ModelSpec(key=key, hub_id=hub_id, architecture=architecture, parameters=params,
                     **{**template, **kw})


MODELS: dict[str, ModelSpec] = {m.key: m for m in [
    _m("codet5p-220m", "Salesforce/codet5p-220m", "seq2seq", 220e6, _T5, dtype="float32"),
    _m("codet5p-770m", "Salesforce/codet5p-770m", "seq2seq", 770e6, _T5, dtype="float32"),
    _m("codegen-350m-mono", "Salesforce/codegen-350M-mono", "causal", 350e6, _CODEGEN),
    _m("codegen2-1b", "Salesforce/codegen2-1B", "causal", 1.0e9, _CODEGEN, family="codegen2", trust_remote_code=True),
    _m("codegen2-3.7b", "Salesforce/codegen2-3_7B", "causal", 3.7e9, _CODEGEN, family="codegen2", trust_remote_code=True),
    _m("codegen2-7b", "Salesforce/codegen2-7B", "causal", 7.0e9, _CODEGEN, family="codegen2", trust_remote_code=True),
    _m("codellama-7b", "codellama/CodeLlama-7b-hf", "causal", 6.74e9, _LLAMA),
    _m("codellama-7b-instruct", "codellama/CodeLlama-7b-Instruct-hf", "causal", 6.74e9, _LLAMA),
    _m("codellama-7b-python", "codellama/CodeLlama-7b-Python-hf", "causal", 6.74e9, _LLAMA),
    _m("codellama-13b-python", "codellama/CodeLlama-13b-Python-hf", "causal", 13.0e9, _LLAMA),
    _m("codellama-34b-python", "codellama/CodeLlama-34b-Python-hf", "causal", 34.0e9, _LLAMA),
    # Tiny local stand-ins, one per architecture family (built by repro.tiny_models).
    _m("tiny-llama", None, "causal", 2e6, _LLAMA, dtype="float32", tiny=True),
    _m("tiny-codegen", None, "causal", 2e6, _CODEGEN, dtype="float32", tiny=True),
    _m("tiny-t5", None, "seq2seq", 2e6, _T5, dtype="float32", tiny=True),
]}


@dataclass(frozen=True)
class DatasetSpec:
    key: str
    task: str                        # the task it belongs to (repro/tasks/): nl2code | apps | java-tests
    hub_id: str | None               # None: bundled only
    bundled_dir: str | None          # directory under repro/bundled/
    splits: dict[str, str]           # canonical split -> file stem / hub split name
    intent_field: str = "nl"
    code_field: str = "cmd"
    file_format: str = "jsonl"       # data files read at the pinned revision
    hub_files: dict[str, str] = field(default_factory=dict)  # canonical split -> path in the hub repo
    max_new_tokens: int = 64
    stop: tuple[str, ...] = ()
    revision: str | None = None
    # APPS has no validation split: the train split shuffled with seed 42 gives its first
    # N problems to validation and the rest to training (the authors' code, TOSEM revision).
    validation_from_train: int | None = None
    test_per_difficulty: int | None = None   # APPS: the first N test problems of each difficulty
    # For `repro plan`: assumed tokens per prompt example and generated tokens per sample;
    # split sizes of datasets the plan module has no table for (None: not known here).
    plan_tokens: tuple[int, int] = (40, 32)
    split_sizes: tuple[int | None, int | None, int | None] | None = None


# plan_tokens (for `repro plan`): tokens per prompt example, generated tokens per sample.
_CONALA = dict(task="nl2code", intent_field="nl", code_field="cmd", max_new_tokens=64, stop=("\n",), plan_tokens=(40, 32),
               splits={"train": "train", "validation": "validation", "test": "test"})
_ALPACA = dict(task="nl2code", intent_field="nl", code_field="cmd", max_new_tokens=128, plan_tokens=(130, 96),
               splits={"train": "train", "validation": "valid", "test": "test"})
_APPS = dict(task="apps", intent_field="question", code_field="solutions", max_new_tokens=1024, plan_tokens=(900, 512),
             splits={"train": "train", "validation": "train", "test": "test"}, stop=("```",))

DATASETS: dict[str, DatasetSpec] = {d.key: d for d in [
    DatasetSpec("conala", hub_id="neulab/docprompting-conala", bundled_dir=None, **_CONALA,
                hub_files={"train": "train.json", "validation": "dev.json", "test": "test.json"},
                file_format="json"),
    DatasetSpec("codealpacapy", hub_id="antolin/codealpaca-filtered", bundled_dir=None, **_ALPACA,
                file_format="parquet",
                hub_files={"train": "data/train-*.parquet", "validation": "data/valid-*.parquet",
                           "test": "data/test-*.parquet"}),
    DatasetSpec("apps", hub_id="codeparrot/apps", bundled_dir=None, **_APPS, validation_from_train=500, test_per_difficulty=250,
                hub_files={"train": "train.jsonl", "test": "test.jsonl"}),
    DatasetSpec("conala-bundled", hub_id=None, bundled_dir="conala", **_CONALA),
    DatasetSpec("codealpacapy-bundled", hub_id=None, bundled_dir="codealpacapy", **_ALPACA),
    DatasetSpec("apps-bundled", hub_id=None, bundled_dir="apps", **_APPS, validation_from_train=5),
]}


# --- Second study: PEFT for Java unit-test generation (Storhaug & Li, arXiv 2411.02462) ---
# Targets are the study's: LoRA on the attention projections, (IA)3 on those plus one
# feed-forward module per family. Parameter counts: the model card's (v2 of the paper for
# CodeGen-350M); they feed `repro plan` only.
_CODEGEN_JAVA = dict(family="codegen", lora_targets=("qkv_proj",), ia3_targets=("qkv_proj", "fc_out"),
                     ia3_feedforward=("fc_out",))
_STARCODER = dict(family="gpt_bigcode", lora_targets=("c_attn",), ia3_targets=("c_attn", "mlp.c_proj"),
                  ia3_feedforward=("mlp.c_proj",))
_STARCODER2 = dict(family="starcoder2", lora_targets=("q_proj", "v_proj"), ia3_targets=("q_proj", "v_proj", "c_proj"),
                   ia3_feedforward=("c_proj",))
_CG2 = dict(_CODEGEN_JAVA, family="codegen2", trust_remote_code=True)
MODELS.update({m.key: m for m in [
    _m("codegen-350m-multi", "Salesforce/codegen-350M-multi", "causal", 356_712_448, _CODEGEN_JAVA),
    _m("codegen2-1b-p", "Salesforce/codegen2-1B_P", "causal", 1_015_306_240, _CG2),
    _m("codegen2-3.7b-p", "Salesforce/codegen2-3_7B_P", "causal", 3_641_174_016, _CG2),
    _m("codegen2-7b-p", "Salesforce/codegen2-7B_P", "causal", 6_862_858_240, _CG2),
    _m("codegen2-16b-p", "Salesforce/codegen2-16B_P", "causal", 16_032_155_648, _CG2),
    _m("starcoderbase", "bigcode/starcoderbase", "causal", 15_517_456_384, _STARCODER),
    _m("starcoder2-3b", "bigcode/starcoder2-3b", "causal", 3_030_371_328, _STARCODER2),
    _m("starcoder2-7b", "bigcode/starcoder2-7b", "causal", 7_173_923_840, _STARCODER2),
    _m("starcoder2-15b", "bigcode/starcoder2-15b", "causal", 15_655_899_136, _STARCODER2),
]})

# methods2test_small (config fm+fc+c+m+f+t+tc): `source` is the focal class and the opening of
# the test method, `target` the test method's body. HumanEval-X Java: `prompt` is the class
# up to the method's opening brace, `canonical_solution` the body. Both are completed as plain
# text (template `completion`), greedy, stopped when the braces balance; samples whose prompt
# and reference exceed the block size are dropped (`block_size` of the run).
_M2T = dict(task="java-tests", intent_field="source", code_field="target", max_new_tokens=2048,
            splits={"train": "train", "validation": "validation", "test": "test"}, file_format="parquet")
_HEX = dict(task="java-tests", intent_field="prompt", code_field="canonical_solution", max_new_tokens=2048,
            splits={"test": "test"}, file_format="jsonl.gz")
M2T_CONFIG = "fm+fc+c+m+f+t+tc"
DATASETS.update({d.key: d for d in [
    # Test split: 1,017 rows (PROTOCOL.md); train/validation sizes are not given by the study.
    # Token assumptions for `plan`: a focal class + test opening ~600 tokens, a test ~120.
    DatasetSpec("methods2test-small", hub_id="andstor/methods2test_small", bundled_dir=None, **_M2T,
                split_sizes=(None, None, 1017), plan_tokens=(600, 120),
                hub_files={s: f"*{M2T_CONFIG}/*{s}*.parquet" for s in ("train", "validation", "test")}),
    DatasetSpec("humaneval-x-java", hub_id="THUDM/humaneval-x", bundled_dir=None, **_HEX,
                split_sizes=(None, None, 164), plan_tokens=(200, 100),
                hub_files={"test": "data/java/data/humaneval.jsonl.gz"}),
    DatasetSpec("methods2test-bundled", hub_id=None, bundled_dir="methods2test",
                **{**_M2T, "file_format": "jsonl"}),
    DatasetSpec("humaneval-x-java-bundled", hub_id=None, bundled_dir="humaneval-x",
                **{**_HEX, "file_format": "jsonl"}),
]})


def apply_input_lock(path=None) -> None:
    """Pin MODELS/DATASETS revisions from checksums/inputs.lock.json (`repro lock` writes it;
    REPRO_INPUTS_LOCK names another file). Missing file or null revisions leave inputs unpinned."""
    import json
    import os
    from dataclasses import replace
    from pathlib import Path

    from repro.errors import UserError

    default = Path(__file__).resolve().parent.parent / "checksums" / "inputs.lock.json"
    path = Path(path or os.environ.get("REPRO_INPUTS_LOCK") or default)
    if not path.is_file():
        return
    try:
        lock = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"not valid JSON: {e}", file=str(path), fix="restore it with git or re-run `python -m repro lock`")
    for table, section in ((MODELS, "models"), (DATASETS, "datasets")):
        for key, entry in (lock.get(section) or {}).items():
            if key in table and (entry or {}).get("revision"):
                table[key] = replace(table[key], revision=entry["revision"])

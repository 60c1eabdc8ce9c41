"""Write manifests/paper2/*.yaml (the unit-test study, version 1) from its results CSV.

Every run of the study is listed (10 models x baseline, full fine-tuning, LoRA, (IA)3,
prompt tuning; train and evaluation runs separate), every number of `v1_results.csv` is
attached to exactly one run with a tolerance derived by the rules of docs/TOLERANCES.md
(section "The unit-test study"), and the four headline claims are written as checks.

    python tools/make_paper2_manifests.py [--csv manifests/paper2/source/v1_results.csv] [--check]
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from repro.records import write_or_check  # noqa: E402
from repro.registry import MODELS  # noqa: E402

DEFAULT_CSV = ROOT / "manifests" / "paper2" / "source" / "v1_results.csv"
OUT = ROOT / "manifests" / "paper2"
STUDY = "peft-unit-test-paper"
METHODS = {"None": "none", "Full fine-tuning": "full-ft", "LoRA": "lora", "(IA)3": "ia3",
           "Prompt tuning": "prompt-tuning"}
METHOD_LABEL = {"none": "baseline", "full-ft": "full-ft", "lora": "lora", "ia3": "ia3",
                "prompt-tuning": "prompt-tuning"}
# The CSV names CodeLlama-7B by its meta-llama mirror; the registry's hub id is codellama/'s.
HUB_ALIASES = {"meta-llama/CodeLlama-7b-hf": "codellama/CodeLlama-7b-hf"}
# The study's target modules per family (LoRA; (IA)3 = attention + feed-forward).
TARGETS = {
    "codegen": (["qkv_proj"], ["qkv_proj", "fc_out"], ["fc_out"]),
    "codellama": (["q_proj", "v_proj"], ["q_proj", "v_proj", "down_proj"], ["down_proj"]),
    "starcoderbase": (["c_attn"], ["c_attn", "mlp.c_proj"], ["mlp.c_proj"]),
    "starcoder2": (["q_proj", "v_proj"], ["q_proj", "v_proj", "c_proj"], ["c_proj"]),
}
# methods2test_small's test split after the block-size filter, per tokenizer (PROTOCOL.md).
M2T_TEST_SIZE = {"codegen": 984, "codellama": 983, "starcoderbase": 1002, "starcoder2": 1002}
HEX_SIZE = 164
LEARNING_RATES = {"full-ft": 5e-5, "lora": 3e-4, "ia3": 3e-4, "prompt-tuning": 3e-3}
BLOCK_SIZE = 2048

# --- tolerance rules (docs/TOLERANCES.md, "The unit-test study") ---------------------------
Z = 2.0
PRINTED_DECIMALS = 2          # the CSV's fractions have 4 decimals: 2 decimals in percent
PARAMS_RELATIVE = 0.05


def _ceil2(x: float) -> float:
    return math.ceil(round(x * 100, 6)) / 100


def share_tolerance(value: float, n: int, kind: str, denominator: str) -> tuple[float, str]:
    """max(z*SE, 3/n) + half a printed unit, SE = sqrt(p(1-p)/n) (binomial for shares; the
    Bhatia-Davis bound for means of per-sample scores in [0, 1]). n = 0 (nothing in the
    denominator in the paper): the value is 0 by the study's convention and must stay 0."""
    rounding = 0.5 * 10 ** (-PRINTED_DECIMALS)
    if n == 0:
        return rounding, f"empty denominator ({denominator} = 0 in the paper): 0 by convention, +{rounding:g} rounding"
    p = min(max(value / 100.0, 0.0), 1.0)
    se = 100.0 * math.sqrt(p * (1 - p) / n)
    tol = _ceil2(max(Z * se, 300.0 / n) + rounding)
    name = "binomial" if kind == "share" else "bounded-mean"
    return tol, (f"{name}: max({Z:g}*SE, 3/n) + {rounding:g} rounding; SE=sqrt(p(1-p)/n)={se:.2f} "
                 f"at p={value:g}%, n={n} ({denominator})")


def params_tolerance(value: int) -> tuple[int, str]:
    tol = max(1, round(PARAMS_RELATIVE * value))
    return tol, f"parameter count: max(1, {PARAMS_RELATIVE:.0%}) (printed exactly)"


def ref(value, tol, rule, source="v1 table") -> dict:
    return {"value": value, "tolerance": tol, "source": source, "precision": "exact", "rule": rule}


# --- the model table ---------------------------------------------------------------------------
def key_of(hub_id: str) -> str:
    hub_id = HUB_ALIASES.get(hub_id, hub_id)
    for key, spec in MODELS.items():
        if spec.hub_id == hub_id:
            return key
    raise KeyError(f"no registry model for {hub_id}")


def family_of(key: str) -> str:
    if key.startswith("codegen"):
        return "codegen"
    if key.startswith("codellama"):
        return "codellama"
    return "starcoder2" if key.startswith("starcoder2") else "starcoderbase"


def tuning(key: str, method: str) -> dict:
    lora, ia3, ff = TARGETS[family_of(key)]
    t = {"method": method}
    if method == "lora":
        t["lora"] = {"target_modules": lora}
    if method == "ia3":
        t["ia3"] = {"target_modules": ia3, "feedforward_modules": ff}
    return t


def train_id(key, method): return f"{key}-{METHOD_LABEL[method]}-train"
def m2t_id(key, method): return f"{key}-{METHOD_LABEL[method]}-methods2test"
def hex_id(key, method): return f"{key}-{METHOD_LABEL[method]}-humaneval-x"


def pct(text: str) -> float:
    return round(100.0 * float(text), 2)


def references(row: dict, key: str) -> tuple[dict, dict, dict]:
    """(train, methods2test, humaneval-x) references of one CSV row."""
    n_m2t = M2T_TEST_SIZE[family_of(key)]
    valid, hvalid = float(row["m2t_small_valid_syntax"]), float(row["hex_valid_syntax"])
    salvaged, hsalvaged = round(n_m2t * valid), round(HEX_SIZE * hvalid)
    passing = round(hsalvaged * float(row["hex_pass1_runnable"]))
    m2t, hex_, train = {}, {}, {}
    v = pct(row["m2t_small_valid_syntax"])
    m2t["syntax/valid"] = ref(v, *share_tolerance(v, n_m2t, "share", "test samples"))
    v = pct(row["m2t_small_codebleu"])
    m2t["codebleu-java"] = ref(v, *share_tolerance(v, salvaged, "mean", "salvaged predictions"))
    v = pct(row["hex_valid_syntax"])
    hex_["syntax/valid"] = ref(v, *share_tolerance(v, HEX_SIZE, "share", "problems"))
    v = pct(row["hex_codebleu"])
    hex_["codebleu-java"] = ref(v, *share_tolerance(v, hsalvaged, "mean", "salvaged predictions"))
    v = pct(row["hex_pass1_runnable"])
    hex_["junit/pass@1"] = ref(v, *share_tolerance(v, hsalvaged, "share", "salvaged predictions"))
    for col, metric in (("hex_instr_cov", "junit/instruction_coverage"), ("hex_branch_cov", "junit/branch_coverage")):
        v = pct(row[col])
        hex_[metric] = ref(v, *share_tolerance(v, passing, "mean", "passing solutions"))
    params = int(row["trainable_params"])
    source = "v1 table"
    if key in ("codegen-350m-multi", "codellama-7b") and row["method"] == "Full fine-tuning":
        source = "v1 table; v2 corrects the count (PROTOCOL.md known anomalies)"
    target = train if row["method"] != "None" else m2t
    target["trainable_parameters"] = ref(params, *params_tolerance(params), source=source)
    return train, m2t, hex_


def build_runs(rows: list[dict]) -> tuple[list[dict], dict]:
    runs, index = [], {}
    for row in rows:
        key, method = key_of(row["hub_id"]), METHODS[row["method"]]
        index[(key, method)] = row
        train, m2t, hex_ = references(row, key)
        t = tuning(key, method)
        if method != "none":
            runs.append({"id": train_id(key, method), "rq": "RQ2", "kind": "train", "model": key,
                         "dataset": "methods2test-small", "tuning": t, "reference": train})
        src = {"adapter_from": train_id(key, method)} if method != "none" else {}
        runs.append({"id": m2t_id(key, method), "rq": "RQ1", "model": key, "dataset": "methods2test-small",
                     "tuning": t, **src, "metrics": M2T_METRICS, "reference": m2t})
        runs.append({"id": hex_id(key, method), "rq": "RQ1-forgetting", "model": key, "dataset": "humaneval-x-java",
                     "tuning": t, **src, "metrics": HEX_METRICS, "reference": hex_})
    return runs, index


def claims(index: dict) -> list[dict]:
    models = list(dict.fromkeys(k for k, _ in index))
    peft = ["lora", "ia3", "prompt-tuning"]
    c1 = [{"metric": "codebleu-java", "greater": {"runs": [m2t_id(m, p) for p in peft], "agg": "max"},
           "less": {"runs": [m2t_id(m, "full-ft")], "factor": 0.8},
           "note": f"{m}: best PEFT method within 80% of full fine-tuning (methods2test CodeBLEU)"} for m in models]
    lora_wins = [m for m in models if float(index[(m, "lora")]["m2t_small_codebleu"])
                 > float(index[(m, "full-ft")]["m2t_small_codebleu"])]
    c1 += [{"metric": "codebleu-java", "greater": m2t_id(m, "lora"), "less": m2t_id(m, "full-ft"),
            "note": f"{m}: LoRA matches or beats full fine-tuning (one of the cases the paper shows)"} for m in lora_wins]
    c2 = [{"metric": "syntax/valid", "greater": m2t_id("codegen2-1b-p", "prompt-tuning"),
           "less": m2t_id("codegen2-1b-p", "none"),
           "note": "CodeGen2-1B: prompt tuning lifts syntactic validity above the baseline (paper: 0 -> 66.63 %)"}]
    for m in models:
        c2.append({"metric": "trainable_parameters", "greater": train_id(m, "ia3"), "less": train_id(m, "prompt-tuning"),
                   "note": f"{m}: prompt tuning trains fewer parameters than (IA)3"})
        c2.append({"metric": "trainable_parameters", "greater": train_id(m, "lora"), "less": train_id(m, "ia3"),
                   "note": f"{m}: (IA)3 trains fewer parameters than LoRA"})
    mean = lambda method: {"runs": [hex_id(m, method) for m in models], "agg": "mean"}  # noqa: E731
    c3 = [{"metric": "junit/pass@1", "greater": mean("ia3"), "less": mean(other),
           "note": f"HumanEval-X pass@1, mean over models: (IA)3 closest to the baseline, above {other}"}
          for other in ("lora", "prompt-tuning", "full-ft")]
    c3 += [{"metric": "junit/pass@1", "greater": mean(method),
            "less": {"runs": [hex_id(m, "none") for m in models], "agg": "mean", "factor": 0.8},
            "note": f"HumanEval-X pass@1, mean over models: {method} keeps at least 80% of the baseline's"}
           for method in peft]
    valid_models = [m for m in models if all(float(index[(m, meth)]["m2t_small_valid_syntax"]) > 0.8
                                             for meth in METHODS.values())]
    c4 = [{"metric": "syntax/valid", "greater": m2t_id(m, meth), "less": {"value": 80.0},
           "note": f"{m} {METHOD_LABEL[meth]}: more than 80 % syntactically valid tests"}
          for m in valid_models for meth in METHODS.values()]
    return [
        {"id": "c1-peft-close-to-full-fine-tuning", "text": "PEFT methods come close to full fine-tuning (best PEFT "
         "method within 80 % of its methods2test CodeBLEU for every model); LoRA matches it in several cases "
         f"({len(lora_wins)} models in the paper).", "checks": c1},
        {"id": "c2-prompt-tuning-most-cost-effective", "text": "Prompt tuning is the most cost-effective: fewest "
         "trainable parameters, and gains such as CodeGen2-1B's syntactic validity 0 % -> 66.63 %.", "checks": c2},
        {"id": "c3-ia3-changes-least-peft-resists-forgetting", "text": "(IA)3 changes the least and PEFT mostly resists "
         "catastrophic forgetting on HumanEval-X (pass@1 averaged over the ten models).", "checks": c3},
        {"id": "c4-most-models-over-80-percent-valid", "text": "Most models produce more than 80 % syntactically valid "
         f"tests (checked for the {len(valid_models)} models above 80 % in every configuration in the paper; "
         "CodeGen2-1B and 3.7B are not).", "checks": c4},
    ]


REPORT_TABLES = [
    {"title": "Table IV (v1), methods2test_small", "dataset": "methods2test-small",
     "metrics": ["syntax/valid", "codebleu-java", "trainable_parameters"]},
    {"title": "Table IV (v1), HumanEval-X Java", "dataset": "humaneval-x-java",
     "metrics": ["syntax/valid", "codebleu-java", "junit/pass@1", "junit/instruction_coverage",
                 "junit/branch_coverage"]},
]
M2T_METRICS = ["java-syntax", "codebleu-java", "codebleu-java-13a", "tuned-parameters"]
HEX_METRICS = ["java-syntax", "codebleu-java", "codebleu-java-13a", "junit"]
DEFAULTS = {
    "seed": 42,
    "prompting": {"template": "completion", "system_line": False},
    "tuning": {"optimizer": "adamw", "lr_scheduler": "linear", "warmup_ratio": 0.1, "weight_decay": 0.0,
               "batch_size": 1, "gradient_accumulation_steps": 8, "epochs": 3, "learning_rates": LEARNING_RATES,
               "lora": {"r": 16, "alpha": 32, "dropout": 0.1, "bias": "none"},
               "num_virtual_tokens": 20, "prompt_init": "random", "max_length": BLOCK_SIZE,
               "over_length": "drop", "precision": "auto"},
    "generation": {"strategy": "greedy", "num_beams": 1, "num_return_sequences": 1, "max_new_tokens": BLOCK_SIZE,
                   "block_size": BLOCK_SIZE, "stop_rule": "balanced-braces", "batch_size": 1},
}
HEADER = """\
# GENERATED by tools/make_paper2_manifests.py from manifests/paper2/source/v1_results.csv;
# do not edit by hand: change the tool and run `python tools/make_paper2_manifests.py`.
# Storhaug & Li, arXiv 2411.02462 v1: PEFT for Java unit-test generation. 10 models x
# {baseline, full fine-tuning, LoRA, (IA)3, prompt tuning}; each tuned configuration has a
# train run (methods2test_small) and two evaluations: methods2test_small (syntactic validity,
# CodeBLEU) and HumanEval-X Java (forgetting probe: validity, CodeBLEU, JUnit pass@1 and
# JaCoCo coverage). Metrics are percent; tolerances: docs/TOLERANCES.md.
# Known anomalies of the published numbers (kept as published, PROTOCOL.md): (IA)3 on
# StarCoderBase and StarCoder2-15B equals the baseline; CodeGen2-1B/3.7B baselines are 0 %;
# the full fine-tuning parameter counts of CodeGen-350M and CodeLlama-7B are corrected in v2.
# Deviation: training keeps the checkpoint with the lowest validation loss (this package's
# trainer); the authors kept the last one.
"""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _list_representer(dumper, data):
    flow = all(not isinstance(x, (dict, list)) for x in data) and len(data) <= 12
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _list_representer)


def read_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def build(csv_path: Path) -> dict[str, str]:
    rows = read_rows(csv_path)
    runs, index = build_runs(rows)
    doc = {"manifest_version": 1, "study": STUDY,
           "description": "Every run of Storhaug & Li (arXiv 2411.02462v1) with the paper's numbers.",
           "limits": {"full_ft_max_parameters": None}, "report_tables": REPORT_TABLES, "defaults": DEFAULTS,
           "runs": runs, "claims": claims(index)}
    return {"study.yaml": HEADER + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    args = ap.parse_args(argv)
    files = build(args.csv)
    return write_or_check({args.out / n: t for n, t in files.items()}, args.check, "the paper2 manifests (regenerate from the CSV)")


if __name__ == "__main__":
    sys.exit(main())

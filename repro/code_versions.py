"""The authors' two code versions as a run setting (`code_version: paper-era | tosem`).

`martin-wey/peft-llm-code` exists in two versions that change the numbers: the paper-era
replication package (commit c55e532, Nov 2023) and the TOSEM revision (branch `revision`,
Oct 2024, which added RAG and APPS). `DIFFERENCES` holds every setting that differs, one
entry each, with the authors' file and line it was read from; the builders below (evaluation
prompt, training text, loss mask, output cut, APPS training pairs) only read that table.
Line numbers: `pe:` = the file at c55e53231c9b; `tosem:` = the file on branch `revision`.
A run names its version in the manifest (`code_version`); `repro reproduce --code-version`
runs the other one (docs/CODE_VERSIONS.md says which RQ uses which and why).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Sequence

PAPER_ERA, TOSEM = "paper-era", "tosem"
CODE_VERSIONS = (PAPER_ERA, TOSEM)
# Prompt templates whose text the code versions decide; other templates (the unit-test
# study's plain completion) have no code version.
VERSIONED_TEMPLATES = ("instruction", "apps-codellama")
LLAMA_ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class Difference:
    paper_era: Any
    tosem: Any
    source: str


DIFFERENCES: dict[str, Difference] = {
    # Trainer precision (and the dtype the weights load in).
    "precision": Difference(
        "fp16", "bf16",
        "pe: train.py:196 `fp16=True`, train.py:62 / test.py:30 weights in float16 | "
        "tosem: utils.py load_model_and_tokenizer `torch_dtype: torch.bfloat16`, train.py `bf16=True`"),
    "quantization_compute_dtype": Difference(
        "float16", "bfloat16",
        "pe: train.py:71, test.py:39 `bnb_4bit_compute_dtype=torch.float16` | "
        "tosem: utils.py load_model_and_tokenizer `bnb_4bit_compute_dtype=torch.bfloat16`"),
    # Training text and loss mask (Conala / CodeAlpacaPy).
    "training_text": Difference(
        "prompt-then-code", "fenced-completion-only",
        "pe: train.py:149 prompt `### Instruction:\\n{nl}\\n### Response:\\n`, train.py:146 code + EOS, "
        "train.py:154 prompt labelled -100 | tosem: train.py:72 "
        "`### Instruction:\\n{instruction}\\n### Response:\\n```python\\n{response}\\n```` (response stripped), "
        "train.py:107-109 DataCollatorForCompletionOnlyLM on encode('\\n```python')[2:], utils.py:92 (the last "
        "match of the response ids is masked through; pad ids labelled -100 by DataCollatorForLanguageModeling)"),
    # Evaluation prompt.
    "system_line": Difference(
        True, False,
        "pe: test.py:86 zero-shot and ICL prompts start with `Generate Python code given a natural language "
        "instruction.`, only when --num_icl_examples >= 0 (untuned models) | tosem: test.py:62, 91 no such line"),
    "prompt_leading_newline": Difference(
        True, False,
        "pe: test.py:98 the prompt is `\\n### Instruction:\\n{nl}\\n### Response:\\n` (also for tuned models, "
        "--num_icl_examples -1) | tosem: test.py:91 `### Instruction:\\n{instruction}\\n### Response:\\n```python\\n`"),
    "response_opening": Difference(
        "", "```python\n",
        "pe: test.py:98 | tosem: test.py:91 (the prompt ends in an opening fence)"),
    "example_format": Difference(
        "plain-32-spaces", "fenced",
        "pe: test.py:93-94 an f-string with a backslash line continuation: `\\n### Instruction:\\n{nl}` + 32 "
        "spaces + `\\n### Response:\\n{cmd}\\n` | tosem: test.py:65-66 (ICL), 119-120 (RAG) "
        "`### Instruction:\\n{nl}\\n### Response:\\n```python\\n{cmd}\\n```\\n\\n`"),
    "strategies": Difference(
        ("zero-shot", "icl"), ("zero-shot", "icl", "rag"),
        "pe: test.py has no retrieval | tosem: test.py:68-87 RAG with gte-small"),
    # Stop strings and how a candidate is cut.
    "stop": Difference(
        None, ("```",),
        "pe: test.py:21-22, 117 Conala `\\n`, CodeAlpacaPy none (besides EOS; None = the dataset's own) | "
        "tosem: test.py:22 the closing fence"),
    "cut": Difference(
        "strip-then-cut", "cut-then-strip",
        "pe: test.py:139 `re.split(stops, text.strip())[0]` | tosem: test.py:195 `text.split('```')[0].strip()`"),
    # APPS exists only in the revision.
    "apps": Difference(
        None, "codellama-inst-fenced",
        "tosem: test.py:93-96 test prompt `<s>[INST] ... {guide}:\\n{question}\\n[/INST]\\n```python\\n"
        "{starter_code}`; train.py:60 `random.choice(json.loads(solutions))`, the training text without starter "
        "code, fenced and ended by `</s>` (PROTOCOL.md, 'Two versions of the authors' code')"),
    "lora_targets_llama": Difference(
        None, LLAMA_ALL_LINEAR,
        "pe: utils.py:47 (and the other CodeLlama entries to line 70) q_proj, k_proj, v_proj "
        "(None = the registry's) | "
        "tosem: utils.py:63 all seven linear layers"),
}

from repro.tasks.nl2code.prompts import SYSTEM_LINE  # noqa: E402  (one definition, owned by the task)
# pe: test.py:93-94 -- the backslash continuation keeps the next line's 32-space indent.
PAPER_ERA_EXAMPLE_INDENT = " " * 32
# tosem: train.py:107 (the response template; its first two token ids are dropped, train.py:108).
COMPLETION_TEMPLATE = "\n```python"
APPS_QUESTION = ("Write a python code to solve the following coding problem that obeys the constraints and "
                 "passes the example test cases. The output code needs to {guide}:\n{question}\n[/INST]\n```python\n")


def setting(version: str, name: str) -> Any:
    """The value of one difference for one code version."""
    check(version)
    d = DIFFERENCES[name]
    return d.paper_era if version == PAPER_ERA else d.tosem


def check(version: str) -> None:
    if version not in CODE_VERSIONS:
        raise ValueError(f"unknown code version {version!r}; known: {', '.join(CODE_VERSIONS)}")


# --- evaluation prompts -------------------------------------------------------------------

def example_text(version: str, intent: str, code: str) -> str:
    """One ICL/RAG example as the version writes it."""
    if setting(version, "example_format") == "fenced":
        return f"### Instruction:\n{intent}\n### Response:\n```python\n{code}\n```\n\n"
    return f"\n### Instruction:\n{intent}{PAPER_ERA_EXAMPLE_INDENT}\n### Response:\n{code}\n"


def eval_prompt(version: str, intent: str, examples: Sequence[tuple[str, str]] = (), *, tuned: bool,
                seq2seq: bool = False, system_line: bool | None = None) -> str:
    """The test prompt: [system line] + examples + the sample's instruction (+ CodeT5's sentinel).
    `system_line` (the manifest's `prompting.system_line`) overrides the version when not None."""
    if system_line is None:
        system_line = setting(version, "system_line") and not tuned
    lead = "\n" if setting(version, "prompt_leading_newline") else ""
    head = SYSTEM_LINE + ("" if lead else "\n") if system_line else ""
    shots = "".join(example_text(version, i, c) for i, c in examples)
    prompt = head + shots + f"{lead}### Instruction:\n{intent}\n### Response:\n" + setting(version, "response_opening")
    # Both versions append T5's sentinel for CodeT5+ (pe: test.py:102-103, tosem: test.py:126-127).
    return prompt + "<extra_id_0>" if seq2seq else prompt


# --- training text -------------------------------------------------------------------------

def training_pair(version: str, intent: str, code: str, *, seq2seq: bool = False) -> dict:
    """A training row: `prompt` + `target` (loss on the target, EOS appended), or for the
    completion-only collator a whole `text` (loss after the response template)."""
    if seq2seq:  # both versions: pe train.py:161, tosem train.py:88 (the seq2seq preprocess)
        return {"prompt": f"Generate Python code: ### Instruction:\n{intent}\n### Response:\n", "target": code}
    if setting(version, "training_text") == "fenced-completion-only":
        return {"text": f"### Instruction:\n{intent}\n### Response:\n```python\n{code.strip()}\n```"}
    return {"prompt": f"### Instruction:\n{intent}\n### Response:\n", "target": code}


def apps_guide(row: dict) -> str:
    io = row.get("input_output") or "{}"
    try:
        fn_name = (json.loads(io) if isinstance(io, str) else io).get("fn_name")
    except ValueError:
        fn_name = None
    return "use the provided function signature" if fn_name else "read from and write to standard IO"


def apps_test_prompt(row: dict) -> str:
    """tosem: test.py:93-96 -- a literal `<s>` and the starter code after the opening fence."""
    return "<s>[INST] " + APPS_QUESTION.format(guide=apps_guide(row), question=row["question"]) + \
        (row.get("starter_code") or "")


def apps_training_pairs(version: str, rows: Sequence[dict], rng: random.Random) -> list[dict]:
    """APPS training texts: no starter code, one solution per problem drawn with `rng.choice` in
    row order (tosem: train.py:60 `random.choice` after `transformers.set_seed(seed)`; pass
    `random.Random(seed)`, which `set_seed` matches), fenced and ended by a literal `</s>`; the
    drawn solution's index is kept in each row (`solution_index`). The authors mapped with
    `num_proc` workers, each forked with the same generator state, so their exact draws also
    depend on their worker count; this is the single-process draw."""
    if setting(version, "apps") is None:
        raise ValueError(f"APPS exists only in the tosem code version, not in {version}")
    out = []
    for r in rows:
        solutions = json.loads(r["solutions"]) if isinstance(r["solutions"], str) else list(r["solutions"])
        if not solutions:
            continue
        k = solutions.index(rng.choice(solutions))
        text = "[INST] " + APPS_QUESTION.format(guide=apps_guide(r), question=r["question"]) + \
            solutions[k].strip() + "\n```</s>"
        out.append({"text": text, "problem_id": r.get("problem_id"), "solution_index": k})
    return out


def completion_only_labels(tokenizer, ids: list[int]) -> list[int]:
    """Labels as the revision's DataCollatorForCompletionOnlyLM gives them (utils.py:92, a copy of
    trl's): -100 up to and including the LAST occurrence of the response template ids, and on pad
    ids (DataCollatorForLanguageModeling); the whole row -100 when the template is absent.
    Written here because trl removed this collator and the package does not depend on trl."""
    template = tokenizer.encode(COMPLETION_TEMPLATE, add_special_tokens=False)[2:]
    if not template:
        raise ValueError(f"the tokenizer encodes {COMPLETION_TEMPLATE!r} in at most two tokens; "
                         "the revision's response template (its ids after the first two) would be empty")
    end = None
    for i in range(len(ids) - len(template) + 1):
        if ids[i:i + len(template)] == template:
            end = i + len(template)
    if end is None:
        return [-100] * len(ids)
    pad = tokenizer.pad_token_id
    return [-100] * end + [-100 if t == pad else t for t in ids[end:]]


def encode_text(tokenizer, text: str, max_length: int) -> dict:
    """A completion-only row: the whole text tokenized with special tokens (a literal `</s>` is
    the EOS token), truncated, labels from `completion_only_labels`."""
    ids = tokenizer(text)["input_ids"][:max_length]
    return {"input_ids": ids, "labels": completion_only_labels(tokenizer, ids)}


# --- output cut ------------------------------------------------------------------------------

def cut_candidate(text: str, stops: Sequence[str], rule: str) -> str:
    """`strip-then-cut` (pe: test.py:139) or `cut-then-strip` (tosem: test.py:195)."""
    if rule == "strip-then-cut":
        text = text.strip()
    end = min([i for i in (text.find(s) for s in stops if s) if i != -1], default=len(text))
    text = text[:end]
    return text.strip() if rule == "cut-then-strip" else text


# --- manifest resolution ---------------------------------------------------------------------

def precision_policy(version: str) -> str:
    """`tuning.precision` for a version: the version's own policy where the precision module
    has one by that name (weights dtype, Trainer flags and QLoRA compute as that version
    loaded them), else the version's Trainer precision from the table."""
    try:
        from repro.precision import POLICIES
    except ImportError:
        return setting(version, "precision")
    return version if version in POLICIES else setting(version, "precision")


def default_version(template: str) -> str | None:
    """A versioned template's version when the manifest names none: APPS exists only in the
    revision; everything else defaults to the paper-era package."""
    if template not in VERSIONED_TEMPLATES:
        return None
    return TOSEM if template == "apps-codellama" else PAPER_ERA


def unsupported(version: str, run: dict) -> str | None:
    """Why `version` cannot run `run` (None when it can)."""
    if run["prompting"]["template"] == "apps-codellama" and setting(version, "apps") is None:
        return f"APPS exists only in the {TOSEM} code version"
    if run["prompting"]["strategy"] not in setting(version, "strategies"):
        return f"{run['prompting']['strategy']} prompting exists only in the {TOSEM} code version"
    return None


def resolve(run: dict, file: str, override: str | None = None) -> None:
    """Set `code_version` and fill what it decides where the run left it open: stop strings and
    the cut (Conala/CodeAlpacaPy), Trainer precision, QLoRA compute dtype, LoRA targets.
    `override` (`repro reproduce --code-version`) applies to every run that version can run."""
    from repro.errors import ManifestError
    from repro.registry import DATASETS, MODELS

    template = run["prompting"]["template"]
    version = run.get("code_version")
    if template not in VERSIONED_TEMPLATES:
        if version is not None:
            raise ManifestError(f"the {template} template has no code version", file=file, run=run["id"],
                                field="code_version", fix="remove `code_version` from this run")
        return
    if version is None:
        version = default_version(template)
    if override is not None and unsupported(override, run) is None:
        version = override
    why = unsupported(version, run)
    if why:
        raise ManifestError(why, file=file, run=run["id"], field="code_version", fix=f"use code_version: {TOSEM}")
    run["code_version"] = version
    gen, tuning = run["generation"], run["tuning"]
    if DATASETS[run["dataset"]].task == "nl2code":
        if gen["stop"] is None and setting(version, "stop") is not None:
            gen["stop"] = list(setting(version, "stop"))
        gen["cut"] = setting(version, "cut")
    if tuning["precision"] == "auto":
        tuning["precision"] = precision_policy(version)
    if "compute_dtype" not in (run.get("_given_quant") or {}):
        tuning["quantization"]["compute_dtype"] = setting(version, "quantization_compute_dtype")
    targets = setting(version, "lora_targets_llama")
    lora = tuning["lora"]
    if targets and lora["target_modules"] is None and MODELS[run["model"]].family == "llama":
        lora["target_modules"] = list(targets)

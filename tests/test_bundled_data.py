"""Bundled offline data: hub schemas, sizes, split hygiene, learnability, APPS solutions
passing their tests, the pre-training corpus, and a deterministic generator."""
from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "repro" / "bundled"
GENERATOR = ROOT / "tools" / "make_bundled_data.py"
RUN_TIMEOUT_S = 10


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_generator():
    spec = importlib.util.spec_from_file_location("make_bundled_data", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONALA = {s: read_jsonl(BUNDLED / "conala" / f"{s}.jsonl") for s in ("train", "validation", "test")}
ALPACA = {s: read_jsonl(BUNDLED / "codealpacapy" / f"{s}.jsonl") for s in ("train", "valid", "test")}
APPS = {s: read_jsonl(BUNDLED / "apps" / f"{s}.jsonl") for s in ("train", "test")}
PRETRAIN = (BUNDLED / "pretrain.txt").read_text(encoding="utf-8")

# Field name -> type, as the hub datasets define them (see repro/bundled/README.md).
CONALA_SCHEMA = {"question_id": str, "nl": str, "cmd": str, "oracle_man": list,
                 "canonical_cmd": str, "cmd_name": str}
ALPACA_SCHEMA = {"nl": str, "cmd": str}
APPS_SCHEMA = {"problem_id": int, "question": str, "solutions": str, "input_output": str,
               "difficulty": str, "url": str, "starter_code": str}


def assert_schema(rows: list[dict], schema: dict, where: str) -> None:
    for i, row in enumerate(rows):
        assert set(row) == set(schema), f"{where}[{i}] fields {sorted(row)}"
        for field, kind in schema.items():
            assert type(row[field]) is kind, f"{where}[{i}].{field} is {type(row[field]).__name__}"


# ---------------------------------------------------------------------------- schemas, sizes
def test_conala_schema_and_sizes():
    assert {s: len(r) for s, r in CONALA.items()} == {"train": 800, "validation": 80, "test": 60}
    for split, rows in CONALA.items():
        assert_schema(rows, CONALA_SCHEMA, f"conala/{split}")
        for row in rows:
            assert all(type(doc) is str for doc in row["oracle_man"])
            assert re.fullmatch(r"\d+-\d+", row["question_id"])
            assert row["cmd_name"] == "conala"


def test_codealpacapy_schema_and_sizes():
    assert {s: len(r) for s, r in ALPACA.items()} == {"train": 400, "valid": 40, "test": 40}
    for split, rows in ALPACA.items():
        assert_schema(rows, ALPACA_SCHEMA, f"codealpacapy/{split}")


def test_apps_schema_sizes_and_difficulties():
    assert {s: len(r) for s, r in APPS.items()} == {"train": 30, "test": 18}
    assert Counter(r["difficulty"] for r in APPS["test"]) == {
        "introductory": 6, "interview": 6, "competition": 6}
    for split, rows in APPS.items():
        assert_schema(rows, APPS_SCHEMA, f"apps/{split}")
        assert [r["problem_id"] for r in rows] == list(range(len(rows)))
        for row in rows:
            assert row["difficulty"] in ("introductory", "interview", "competition")
            solutions = json.loads(row["solutions"])
            assert solutions and all(type(s) is str for s in solutions)
            io = json.loads(row["input_output"])
            assert 2 <= len(io["inputs"]) == len(io["outputs"]) <= 6
            assert set(io) <= {"inputs", "outputs", "fn_name"}
            # Call-based problems (fn_name) come with starter code; standard-input ones not.
            assert ("fn_name" in io) == bool(row["starter_code"])


def test_apps_mixes_standard_input_and_call_based_problems():
    for split, rows in APPS.items():
        kinds = Counter()
        for row in rows:
            starter = row["starter_code"]
            kinds["class" if starter.startswith("class Solution:") else
                  "function" if starter.startswith("def ") else "stdin"] += 1
        assert all(kinds[k] >= 2 for k in ("class", "function", "stdin")), (split, kinds)


# ------------------------------------------------------------------------- split hygiene
@pytest.mark.parametrize("dataset", [CONALA, ALPACA], ids=["conala", "codealpacapy"])
def test_intents_never_repeat_within_or_across_splits(dataset):
    intents = [row["nl"] for rows in dataset.values() for row in rows]
    repeated = [nl for nl, n in Counter(intents).items() if n > 1]
    assert not repeated, repeated[:5]


@pytest.mark.parametrize("dataset", [CONALA, ALPACA], ids=["conala", "codealpacapy"])
def test_test_code_is_never_seen_in_train(dataset):
    train_codes = {row["cmd"] for row in dataset["train"]}
    assert not [row["cmd"] for row in dataset["test"] if row["cmd"] in train_codes]


def test_conala_test_families_are_seen_in_train_with_new_names():
    # canonical_cmd hides the intent's names and strings; hiding numbers too leaves the family.
    def family_form(row):
        return re.sub(r"\d+", "NUM", row["canonical_cmd"])
    train_forms = {family_form(row) for row in CONALA["train"]}
    unseen = [row["cmd"] for row in CONALA["test"] if family_form(row) not in train_forms]
    assert not unseen, unseen


def test_conala_code_is_one_short_parsable_line_using_the_intent_names():
    rows = [r for rows in CONALA.values() for r in rows]
    for row in rows:
        assert "\n" not in row["cmd"] and len(row["cmd"]) <= 60, row["cmd"]
        ast.parse(row["cmd"])
        for name in re.findall(r"`([^`]+)`", row["nl"]):
            assert re.search(rf"\b{re.escape(name)}\b", row["cmd"]), (row["nl"], row["cmd"])
        for literal in re.findall(r"'([^']+)'", row["nl"]):
            assert f"'{literal}'" in row["cmd"], (row["nl"], row["cmd"])
    # Variable names go in backticks as in the real dataset; file names and keys in quotes.
    assert sum("`" in r["nl"] for r in rows) >= 0.8 * len(rows)
    assert sum("VAR_STR" in r["canonical_cmd"] for r in rows) >= 0.95 * len(rows)


def test_codealpacapy_code_parses_and_is_mostly_multiline():
    rows = [r for rows in ALPACA.values() for r in rows]
    for row in rows:
        ast.parse(row["cmd"])
    assert sum("\n" in r["cmd"] for r in rows) >= 0.8 * len(rows)


# ----------------------------------------------------------------------- APPS solutions
# Trusted bundled solutions only (our own files): a plain subprocess with a timeout.
CALL_DRIVER = """
import json, sys
payload = json.loads(sys.stdin.read())
namespace = {"__name__": "solution"}
exec(payload["source"], namespace)
if "Solution" in namespace:
    fn = getattr(namespace["Solution"](), payload["fn_name"])
else:
    fn = namespace[payload["fn_name"]]
print(json.dumps(fn(*payload["args"])))
"""


def run_python(code: str, stdin: str) -> str:
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], input=stdin,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    return done.stdout


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


APPS_ROWS = [(split, row) for split, rows in APPS.items() for row in rows]


@pytest.mark.parametrize("split,row", APPS_ROWS,
                         ids=[f"{s}-{r['problem_id']}" for s, r in APPS_ROWS])
def test_apps_solutions_pass_their_tests(split, row):
    io = json.loads(row["input_output"])
    for source in json.loads(row["solutions"]):
        for case_in, expected in zip(io["inputs"], io["outputs"]):
            if "fn_name" in io:
                payload = json.dumps({"source": source, "fn_name": io["fn_name"], "args": case_in})
                got = json.loads(run_python(CALL_DRIVER, payload))
                assert got == expected[0], (case_in, got, expected)
            else:
                assert lines(run_python(source, case_in)) == lines(expected), case_in


def test_apps_harness_rejects_a_wrong_solution():
    row = next(r for r in APPS["test"] if not r["starter_code"])
    io = json.loads(row["input_output"])
    assert lines(run_python("print(-12345)", io["inputs"][0])) != lines(io["outputs"][0])


# ---------------------------------------------------------------------- pre-training text
def test_pretrain_size_and_no_prompt_template():
    assert 200_000 <= len(PRETRAIN.encode("utf-8")) <= 400_000
    assert "### Instruction" not in PRETRAIN and "### Response" not in PRETRAIN


def test_pretrain_never_pairs_an_intent_with_its_code():
    all_rows = [r for d in (CONALA, ALPACA) for rows in d.values() for r in rows]
    assert not [r["nl"] for r in all_rows if r["nl"] in PRETRAIN]
    pretrain_lines = set(PRETRAIN.splitlines())
    assert not [r["cmd"] for rows in CONALA.values() for r in rows if r["cmd"] in pretrain_lines]
    assert not [r["cmd"] for rows in ALPACA.values() for r in rows if r["cmd"] in PRETRAIN]


def test_pretrain_covers_the_task_vocabulary():
    words = set(re.findall(r"[a-z]+", PRETRAIN.lower()))
    identifiers = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", PRETRAIN))
    intents = [r["nl"] for d in (CONALA, ALPACA) for rows in d.values() for r in rows]
    prose_words = {w.lower() for nl in intents
                   for w in re.findall(r"[A-Za-z]+", re.sub(r"`[^`]*`|'[^']*'", " ", nl))}
    assert sorted(prose_words - words) == []
    names = {n for nl in intents for n in re.findall(r"`([^`]+)`", nl) if n.isidentifier()}
    assert sorted(names - identifiers) == []


# ------------------------------------------------------------------------------ generator
def test_generator_is_deterministic_and_matches_committed_files():
    generator = load_generator()
    first, second = generator.build_all(), generator.build_all()
    assert first == second
    done = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_generator_check_flags_an_edited_file(tmp_path):
    copy = tmp_path / "bundled"
    shutil.copytree(BUNDLED, copy)
    target = copy / "conala" / "test.jsonl"
    target.write_text(target.read_text(encoding="utf-8").replace("sorted", "sorted ", 1),
                      encoding="utf-8")
    done = subprocess.run([sys.executable, str(GENERATOR), "--check", "--out", str(copy)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "conala/test.jsonl" in done.stderr and "fix:" in done.stderr


def test_generator_check_flags_a_file_it_did_not_generate(tmp_path):
    copy = tmp_path / "bundled"
    shutil.copytree(BUNDLED, copy)
    (copy / "conala" / "extra.jsonl").write_text("{}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(GENERATOR), "--check", "--out", str(copy)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "conala/extra.jsonl" in done.stderr

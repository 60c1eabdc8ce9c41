"""Generate the bundled Java data of the unit-test study's smoke slice.

Owns `repro/bundled/methods2test/{train,validation,test}.jsonl` (rows in the schema of
`andstor/methods2test_small`, config fm+fc+c+m+f+t+tc: `id`, `source`, `target`) and
`repro/bundled/humaneval-x/test.jsonl` (rows in the schema of `THUDM/humaneval-x`, Java:
`task_id`, `prompt`, `declaration`, `canonical_solution`, `test`, `example_test`).
Everything is written for this project from a few template families with a seeded
`random.Random` (no public data copied), so every run writes byte-identical files.

    python tools/make_bundled_java.py            # (re)write the files
    python tools/make_bundled_java.py --check    # exit 1 if the committed files differ
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from random import Random

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from repro.records import write_or_check  # noqa: E402

SEED = 20241104
OUT = ROOT / "repro" / "bundled"
SIZES = {"train": 48, "validation": 8, "test": 8}

# (class, field, focal method template, other method signature, test name, test body template)
FAMILIES = [
    ("Calculator", "private int offset;", "public int add(int a, int b) {\n        return a + b + offset;\n    }",
     "public int negate(int a);", "testAdd",
     "        Calculator calculator = new Calculator(0);\n        assertEquals({c}, calculator.add({a}, {b}));\n    }}"),
    ("Counter", "private int count;", "public int increment() {\n        count = count + {a};\n        return count;\n    }",
     "public void reset();", "testIncrement",
     "        Counter counter = new Counter();\n        assertEquals({a}, counter.increment());\n    }}"),
    ("TextUtils", "private String separator;", "public String repeat(String text, int times) {\n"
     "        StringBuilder out = new StringBuilder();\n        for (int i = 0; i < times; i++) {\n"
     "            out.append(text);\n        }\n        return out.toString();\n    }",
     "public String trim(String text);", "testRepeat",
     "        TextUtils utils = new TextUtils();\n        assertEquals(\"{word}{word}\", utils.repeat(\"{word}\", 2));\n    }}"),
    ("Inventory", "private java.util.Map<String, Integer> stock;", "public boolean has(String item) {\n"
     "        return stock.getOrDefault(item, 0) > 0;\n    }",
     "public void add(String item, int amount);", "testHas",
     "        Inventory inventory = new Inventory();\n        inventory.add(\"{word}\", {a});\n"
     "        assertTrue(inventory.has(\"{word}\"));\n    }}"),
    ("Account", "private long balance;", "public boolean withdraw(long amount) {\n        if (amount > balance) {\n"
     "            return false;\n        }\n        balance -= amount;\n        return true;\n    }",
     "public long getBalance();", "testWithdraw",
     "        Account account = new Account({c});\n        assertTrue(account.withdraw({a}));\n"
     "        assertEquals({b}, account.getBalance());\n    }}"),
    ("MathUtils", "private static final int LIMIT = 1000;", "public int max(int a, int b) {\n"
     "        return a > b ? a : b;\n    }", "public int min(int a, int b);", "testMax",
     "        MathUtils utils = new MathUtils();\n        assertEquals({m}, utils.max({a}, {b}));\n    }}"),
]
WORDS = ["apple", "pear", "plum", "kiwi", "lime", "fig", "date", "grape"]


def m2t_row(rng: Random, index: int) -> dict:
    cls, field, method, other, test_name, body = FAMILIES[rng.randrange(len(FAMILIES))]
    a, b = rng.randint(1, 40), rng.randint(1, 40)
    values = {"a": a, "b": b, "c": a + b, "m": max(a, b), "word": rng.choice(WORDS)}
    if cls == "Account":
        values["c"], values["b"] = a + b, b
    source = (f"// Focal class\npublic class {cls} {{\n    {field}\n\n    public {cls}();\n\n"
              f"    {method.replace('{a}', str(a))}\n\n    {other}\n}}\n\n"
              f"// Test class\npublic class {cls}Test {{\n    @Test\n    public void {test_name}() {{\n")
    target = body.format(**values) + "\n"
    return {"id": index, "source": source, "target": target}


HUMANEVAL = [
    ("sumOfEvens", "Return the sum of the even numbers of the list.\n    >>> sumOfEvens(Arrays.asList(1, 2, 3, 4))\n    6",
     "public int sumOfEvens(List<Integer> numbers)",
     "        int total = 0;\n        for (int n : numbers) {\n            if (n % 2 == 0) {\n                total += n;\n"
     "            }\n        }\n        return total;\n    }\n}",
     ["s.sumOfEvens(Arrays.asList(1, 2, 3, 4)) == 6", "s.sumOfEvens(Arrays.asList(1, 3)) == 0",
      "s.sumOfEvens(new ArrayList<>()) == 0"]),
    ("reverse", "Return the text reversed.\n    >>> reverse(\"abc\")\n    \"cba\"", "public String reverse(String text)",
     "        return new StringBuilder(text).reverse().toString();\n    }\n}",
     ["s.reverse(\"abc\").equals(\"cba\")", "s.reverse(\"\").equals(\"\")"]),
    ("countVowels", "Count the vowels (a, e, i, o, u) of a lower-case word.\n    >>> countVowels(\"banana\")\n    3",
     "public int countVowels(String word)",
     "        int count = 0;\n        for (char c : word.toCharArray()) {\n            if (\"aeiou\".indexOf(c) >= 0) {\n"
     "                count++;\n            }\n        }\n        return count;\n    }\n}",
     ["s.countVowels(\"banana\") == 3", "s.countVowels(\"xyz\") == 0"]),
    ("clamp", "Clamp value into [low, high].\n    >>> clamp(5, 0, 3)\n    3", "public int clamp(int value, int low, int high)",
     "        if (value < low) {\n            return low;\n        }\n        return Math.min(value, high);\n    }\n}",
     ["s.clamp(5, 0, 3) == 3", "s.clamp(-1, 0, 3) == 0", "s.clamp(2, 0, 3) == 2"]),
]


def humaneval_rows() -> list[dict]:
    rows = []
    for i, (name, doc, signature, solution, checks) in enumerate(HUMANEVAL):
        head = "import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n"
        declaration = f"{head}    {signature} {{\n"
        prompt = f"{head}    /**\n    {doc}\n     */\n    {signature} {{\n"
        test = ("public class Main {\n    public static void main(String[] args) {\n        Solution s = new Solution();\n"
                "        List<Boolean> correct = Arrays.asList(\n                " + ",\n                ".join(checks)
                + "\n        );\n        if (correct.contains(false)) {\n            throw new AssertionError();\n"
                "        }\n    }\n}\n")
        rows.append({"task_id": f"Java/{i}", "prompt": prompt, "declaration": declaration,
                     "canonical_solution": solution + "\n", "test": test, "example_test": ""})
    return rows


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)


def build() -> dict[Path, str]:
    rng = Random(SEED)
    files, index = {}, 0
    for split, n in SIZES.items():
        rows = []
        for _ in range(n):
            rows.append(m2t_row(rng, index))
            index += 1
        files[OUT / "methods2test" / f"{split}.jsonl"] = render(rows)
    files[OUT / "humaneval-x" / "test.jsonl"] = render(humaneval_rows())
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    files = build()
    return write_or_check(files, args.check, "bundled Java data")


if __name__ == "__main__":
    sys.exit(main())

"""Generate the bundled offline data of the smoke reproduction (repro/bundled/).

Owns the miniature Conala, CodeAlpacaPy and APPS splits and the pre-training corpus.
Everything is written for this project from template families (no public data copied),
with a seeded `random.Random`, so every run writes byte-identical files.

    python tools/make_bundled_data.py            # (re)write repro/bundled/
    python tools/make_bundled_data.py --check    # exit 1 if the committed files differ

Stdlib only; the bundled schemas mirror the hub datasets (see repro/bundled/README.md).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from random import Random
from string import Template

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from repro.records import write_atomic  # noqa: E402  (stdlib-only project module)

SEED = 20230821
# Bundled directories written by other generators (checked by those, not here).
OTHER_GENERATORS = {"methods2test": "tools/make_bundled_java.py", "humaneval-x": "tools/make_bundled_java.py"}
OUT_DIR = ROOT / "repro" / "bundled"
CONALA_SIZES = {"test": 60, "validation": 80, "train": 800}
CODEALPACA_SIZES = {"test": 40, "valid": 40, "train": 400}
APPS_TEST_PER_DIFFICULTY = 6
DIFFICULTIES = ("introductory", "interview", "competition")

# ---------------------------------------------------------------------------
# Slot pools shared by the Conala-style and CodeAlpacaPy-style families.
# A template slot `$L2` draws from pool "L"; slots of one pool in one sample differ.
# ---------------------------------------------------------------------------
POOLS = {
    "L": ["nums", "values", "items", "scores", "data", "arr", "lst", "numbers", "prices",
          "ages", "counts", "weights", "sizes", "totals", "points", "marks", "heights",
          "speeds", "readings", "samples", "costs", "levels", "ranks", "votes", "grades",
          "temps", "steps", "amounts", "rates", "lengths", "nums2", "vals", "series"],
    "D": ["d", "counts", "mapping", "config", "inventory", "table", "lookup", "scores",
          "ages", "prices", "settings", "stock", "registry", "index", "cache", "totals",
          "options", "params", "votes", "grades", "store", "record", "env", "meta"],
    "S": ["s", "text", "name", "line", "word", "sentence", "title", "label", "msg",
          "content", "header", "token", "query", "raw", "value_str", "phrase", "caption",
          "message", "field", "entry", "row_text", "input_str", "key_str", "status"],
    "W": ["words", "names", "tokens", "lines", "labels", "tags", "keys", "parts",
          "titles", "fields", "columns", "cities", "colors", "fruits", "terms", "users",
          "codes", "animals", "countries", "lines_in", "headers", "files", "emails", "ids"],
    "X": ["x", "item", "target", "val", "elem", "needle", "value", "key_value", "entry",
          "obj", "num", "element", "candidate", "probe", "record"],
    "LL": ["matrix", "grid", "rows", "nested", "groups", "pairs", "blocks", "table_rows",
           "chunks", "batches", "board", "cells", "layers", "buckets", "sublists", "columns",
           "teams", "shelves", "pages", "lists", "segments", "tiles"],
    "V": ["price", "total", "value", "ratio", "avg", "score", "amount", "mean", "rate",
          "temperature", "distance", "balance"],
    "P": ["folder", "base_dir", "root", "out_dir", "path", "directory", "data_dir",
          "home", "workdir", "prefix_dir"],
    "N": [str(n) for n in range(2, 10)],
    "G": [str(n) for n in range(10, 31)],
    "K": ["name", "age", "id", "color", "size", "price", "city", "email", "score",
          "title", "year", "status", "count", "level", "owner", "type"],
    "C": [",", ";", "-", "|", ":", "_", "/", "."],
    "CH": list("aeiostxyzbmkr"),
    "A": ["foo", "bar", "cat", "dog", "old", "new", "tmp", "abc", "xyz", "red", "blue",
          "yes", "no", "on", "off", "up", "down", "left", "right", "north", "south"],
    "F": ["data.txt", "notes.txt", "config.json", "input.csv", "log.txt", "words.txt",
          "report.md", "results.csv", "settings.ini", "names.txt", "scores.txt",
          "output.log", "todo.txt", "users.json", "cache.dat", "items.csv", "events.log",
          "prices.csv", "stats.json", "readme.txt", "orders.csv", "table.tsv", "index.html",
          "queue.txt", "errors.log", "sample.xml"],
    "DIR": ["data", "logs", "/tmp", "images", "src", "output", "docs", "backup",
            "reports", "cache", "assets", "build", "tests", "scripts", "static", "uploads",
            "downloads", "config", "models", "notes", "archive", "media", "lib", "bin",
            "results"],
}

SLOT_RE = re.compile(r"\$([A-Z]+)(\d?)")


def fill(rng: Random, texts: list[str], pools: dict[str, list[str]]) -> dict[str, str]:
    """Pick one value per slot found in `texts`; slots drawing from one pool differ."""
    values: dict[str, str] = {}
    used: dict[str, list[str]] = {}
    for text in texts:
        for match in SLOT_RE.finditer(text):
            slot, pool = match.group(0)[1:], match.group(1)
            if slot in values:
                continue
            choices = [v for v in pools[pool] if v not in used.get(pool, [])]
            values[slot] = rng.choice(choices)
            used.setdefault(pool, []).append(values[slot])
    return values


# ---------------------------------------------------------------------------
# Conala-style families: (name, intent phrasings, one-line code, doc ids of oracle_man)
# ---------------------------------------------------------------------------
CONALA_FAMILIES = [
    ("sort_desc", ["sort list `$L` in descending order", "sort the list `$L` from largest to smallest",
                   "get list `$L` sorted in reverse order"],
     "sorted($L, reverse=True)", ["python.library.functions#sorted"]),
    ("sort_asc", ["sort list `$L` in ascending order", "get a sorted copy of list `$L`",
                  "order the elements of `$L` from smallest to largest"],
     "sorted($L)", ["python.library.functions#sorted"]),
    ("dict_keys", ["get the keys of dictionary `$D`", "list all keys in dict `$D`",
                   "make a list of the keys of `$D`"],
     "list($D.keys())", ["python.library.stdtypes#dict.keys", "python.library.functions#list"]),
    ("dict_values", ["get the values of dictionary `$D`", "list all values stored in dict `$D`",
                     "make a list of the values of `$D`"],
     "list($D.values())", ["python.library.stdtypes#dict.values", "python.library.functions#list"]),
    ("str_to_int", ["convert string `$S` to integer", "parse an integer from string `$S`",
                    "turn the string `$S` into an int"],
     "int($S)", ["python.library.functions#int"]),
    ("str_to_float", ["convert string `$S` to a float", "parse a floating point number from `$S`",
                      "turn the string `$S` into a float"],
     "float($S)", ["python.library.functions#float"]),
    ("list_max", ["get the maximum value in list `$L`", "find the largest element of list `$L`",
                  "return the biggest number in `$L`"],
     "max($L)", ["python.library.functions#max"]),
    ("list_min", ["get the minimum value in list `$L`", "find the smallest element of list `$L`",
                  "return the lowest number in `$L`"],
     "min($L)", ["python.library.functions#min"]),
    ("list_sum", ["sum all elements of list `$L`", "compute the total of the numbers in `$L`",
                  "add up the values in list `$L`"],
     "sum($L)", ["python.library.functions#sum"]),
    ("list_len", ["get the length of list `$L`", "count the items in list `$L`",
                  "find how many elements list `$L` has"],
     "len($L)", ["python.library.functions#len"]),
    ("reverse_list", ["reverse list `$L`", "get the elements of `$L` in reverse order",
                      "make a reversed copy of list `$L`"],
     "$L[::-1]", []),
    ("str_upper", ["convert string `$S` to uppercase", "make all letters of `$S` upper case",
                   "turn string `$S` into capital letters"],
     "$S.upper()", ["python.library.stdtypes#str.upper"]),
    ("str_lower", ["convert string `$S` to lowercase", "make all letters of `$S` lower case",
                   "turn string `$S` into small letters"],
     "$S.lower()", ["python.library.stdtypes#str.lower"]),
    ("split_by", ["split string `$S` by delimiter '$C'", "break string `$S` into parts at every '$C'",
                  "split `$S` on the character '$C'"],
     "$S.split('$C')", ["python.library.stdtypes#str.split"]),
    ("join_list", ["join the strings in list `$W` with separator '$C'",
                   "concatenate the items of `$W` using '$C' between them",
                   "combine list of strings `$W` into one string separated by '$C'"],
     "'$C'.join($W)", ["python.library.stdtypes#str.join"]),
    ("strip", ["remove leading and trailing whitespace from string `$S`",
               "trim the spaces around string `$S`", "strip whitespace from both ends of `$S`"],
     "$S.strip()", ["python.library.stdtypes#str.strip"]),
    ("replace", ["replace all occurrences of '$A' with '$A2' in string `$S`",
                 "substitute '$A2' for every '$A' in `$S`",
                 "in string `$S` change each '$A' into '$A2'"],
     "$S.replace('$A', '$A2')", ["python.library.stdtypes#str.replace"]),
    ("startswith", ["check if string `$S` starts with '$A'", "test whether `$S` begins with '$A'",
                    "does string `$S` start with the prefix '$A'"],
     "$S.startswith('$A')", ["python.library.stdtypes#str.startswith"]),
    ("endswith", ["check if string `$S` ends with '$A'", "test whether `$S` finishes with '$A'",
                  "does string `$S` end with the suffix '$A'"],
     "$S.endswith('$A')", ["python.library.stdtypes#str.endswith"]),
    ("count_item", ["count the occurrences of `$X` in list `$L`",
                    "how many times does `$X` appear in list `$L`",
                    "get the number of times `$X` occurs in `$L`"],
     "$L.count($X)", ["python.library.stdtypes#list.count"]),
    ("index_of", ["find the index of `$X` in list `$L`", "get the position of `$X` in list `$L`",
                  "return where `$X` first occurs in `$L`"],
     "$L.index($X)", ["python.library.stdtypes#list.index"]),
    ("append", ["append `$X` to list `$L`", "add `$X` to the end of list `$L`",
                "push value `$X` onto list `$L`"],
     "$L.append($X)", ["python.library.stdtypes#list.append"]),
    ("extend", ["add all items of list `$L2` to list `$L`", "extend list `$L` with the list `$L2`",
                "append every element of `$L2` to `$L`"],
     "$L.extend($L2)", ["python.library.stdtypes#list.extend"]),
    ("dedup_ordered", ["remove duplicates from list `$L` keeping the order",
                       "get the unique items of `$L` in their original order",
                       "drop repeated values from `$L` without changing the order"],
     "list(dict.fromkeys($L))", ["python.library.stdtypes#dict.fromkeys"]),
    ("first_n", ["get the first $N elements of list `$L`", "take the first $N items of `$L`",
                 "slice the first $N values from list `$L`"],
     "$L[:$N]", []),
    ("last_n", ["get the last $N elements of list `$L`", "take the last $N items of `$L`",
                "slice the final $N values from list `$L`"],
     "$L[-$N:]", []),
    ("filter_gt", ["get all elements of list `$L` greater than $N",
                   "keep only the values in `$L` that are bigger than $N",
                   "filter list `$L` to the numbers above $N"],
     "[x for x in $L if x > $N]", []),
    ("square_each", ["square every number in list `$L`", "get the squares of the values in `$L`",
                     "compute the square of each element of `$L`"],
     "[x ** 2 for x in $L]", []),
    ("to_str_each", ["convert each element of list `$L` to string",
                     "turn every item of `$L` into a string", "make a list of the values of `$L` as strings"],
     "[str(x) for x in $L]", ["python.library.stdtypes#str"]),
    ("map_int", ["convert all strings in list `$W` to integers", "parse every item of `$W` as an int",
                 "turn the list of strings `$W` into a list of integers"],
     "list(map(int, $W))", ["python.library.functions#map", "python.library.functions#int"]),
    ("zip_dict", ["create a dictionary from keys `$W` and values `$L`",
                  "build a dict mapping each item of `$W` to the matching item of `$L`",
                  "pair list `$W` with list `$L` into a dictionary"],
     "dict(zip($W, $L))", ["python.library.functions#zip", "python.library.stdtypes#dict"]),
    ("dict_get_default", ["get the value of key '$K' from dictionary `$D` with default $N",
                          "look up '$K' in dict `$D` and fall back to $N",
                          "read key '$K' of `$D`, returning $N when it is missing"],
     "$D.get('$K', $N)", ["python.library.stdtypes#dict.get"]),
    ("key_in", ["check if key '$K' exists in dictionary `$D`", "test whether dict `$D` has the key '$K'",
                "is '$K' one of the keys of `$D`"],
     "'$K' in $D", []),
    ("del_key", ["delete key '$K' from dictionary `$D`", "remove the entry '$K' from dict `$D`",
                 "drop key '$K' out of `$D`"],
     "del $D['$K']", []),
    ("sort_dict_value", ["sort dictionary `$D` by value", "order the items of dict `$D` by their values",
                         "get the key value pairs of `$D` sorted by value"],
     "sorted($D.items(), key=lambda x: x[1])", ["python.library.functions#sorted",
                                                 "python.library.stdtypes#dict.items"]),
    ("merge_dicts", ["merge dictionaries `$D` and `$D2`", "combine dict `$D` with dict `$D2`",
                     "create one dictionary from `$D` and `$D2`"],
     "{**$D, **$D2}", []),
    ("invert_dict", ["swap keys and values of dictionary `$D`", "invert the dict `$D`",
                     "make a dictionary mapping the values of `$D` to its keys"],
     "{v: k for k, v in $D.items()}", ["python.library.stdtypes#dict.items"]),
    ("read_file", ["read the contents of file '$F'", "load the whole text of file '$F'",
                   "get the text stored in file '$F'"],
     "open('$F').read()", ["python.library.functions#open"]),
    ("read_lines", ["read all lines of file '$F' into a list", "get the lines of file '$F' as a list",
                    "load file '$F' line by line into a list"],
     "open('$F').readlines()", ["python.library.functions#open", "python.library.io#io.IOBase.readlines"]),
    ("file_exists", ["check if file '$F' exists", "test whether the file '$F' is present",
                     "does the path '$F' exist"],
     "os.path.exists('$F')", ["python.library.os.path#os.path.exists"]),
    ("join_path", ["join directory `$P` and file name `$S`", "build a path from folder `$P` and name `$S`",
                   "combine directory `$P` with file `$S` into one path"],
     "os.path.join($P, $S)", ["python.library.os.path#os.path.join"]),
    ("list_dir", ["list all files in directory '$DIR'", "get the names of the entries in folder '$DIR'",
                  "show what is inside directory '$DIR'"],
     "os.listdir('$DIR')", ["python.library.os#os.listdir"]),
    ("json_dumps", ["convert dictionary `$D` to a JSON string", "serialize dict `$D` as JSON",
                    "encode `$D` into a JSON formatted string"],
     "json.dumps($D)", ["python.library.json#json.dumps"]),
    ("json_loads", ["parse JSON string `$S` into a Python object", "decode the JSON text `$S`",
                    "load data from JSON string `$S`"],
     "json.loads($S)", ["python.library.json#json.loads"]),
    ("find_numbers", ["find all numbers in string `$S`", "extract every group of digits from `$S`",
                      "get all runs of digits in string `$S`"],
     "re.findall(r'\\d+', $S)", ["python.library.re#re.findall"]),
    ("round_to", ["round number `$V` to $N decimal places", "round `$V` keeping $N digits after the point",
                  "get `$V` rounded to $N decimals"],
     "round($V, $N)", ["python.library.functions#round"]),
    ("is_digit", ["check if string `$S` contains only digits", "test whether every character of `$S` is a digit",
                  "is string `$S` made of digits only"],
     "$S.isdigit()", ["python.library.stdtypes#str.isdigit"]),
    ("flatten", ["flatten list of lists `$LL`", "merge the sublists of `$LL` into one flat list",
                 "make a single list from the nested lists in `$LL`"],
     "[x for sub in $LL for x in sub]", []),
    ("range_list", ["create a list of integers from $N up to but not including $G",
                    "make a list of the numbers $N to $G excluding $G",
                    "build list of ints starting at $N and stopping before $G"],
     "list(range($N, $G))", ["python.library.stdtypes#range", "python.library.functions#list"]),
    ("random_choice", ["pick a random element from list `$L`", "choose one item of `$L` at random",
                       "select a random value out of list `$L`"],
     "random.choice($L)", ["python.library.random#random.choice"]),
    ("count_char", ["count occurrences of character '$CH' in string `$S`",
                    "how many times does the letter '$CH' appear in `$S`",
                    "get the number of '$CH' characters in string `$S`"],
     "$S.count('$CH')", ["python.library.stdtypes#str.count"]),
    ("zfill", ["pad string `$S` with zeros to length $N", "left pad `$S` with zeros up to $N characters",
               "fill string `$S` with leading zeros until it is $N long"],
     "$S.zfill($N)", ["python.library.stdtypes#str.zfill"]),
    ("word_lengths", ["map each word in list `$W` to its length",
                      "build a dict from every string of `$W` to how long it is",
                      "create a dictionary of the lengths of the words in `$W`"],
     "{w: len(w) for w in $W}", ["python.library.functions#len"]),
    ("sort_by_len", ["sort list of strings `$W` by length", "order the strings in `$W` from shortest to longest",
                     "get `$W` sorted by the length of each item"],
     "sorted($W, key=len)", ["python.library.functions#sorted", "python.library.functions#len"]),
    ("all_positive", ["check if all elements of list `$L` are positive",
                      "test whether every number in `$L` is greater than zero",
                      "are all the values of `$L` positive"],
     "all(x > 0 for x in $L)", ["python.library.functions#all"]),
    ("any_negative", ["check if any element of list `$L` is negative",
                      "test whether some number in `$L` is below zero",
                      "does list `$L` contain a negative value"],
     "any(x < 0 for x in $L)", ["python.library.functions#any"]),
    ("max_key", ["get the key with the largest value in dictionary `$D`",
                 "find which key of dict `$D` has the maximum value",
                 "return the key of `$D` whose value is the biggest"],
     "max($D, key=$D.get)", ["python.library.functions#max", "python.library.stdtypes#dict.get"]),
    ("insert_at", ["insert `$X` at position $N of list `$L`", "put value `$X` into list `$L` at index $N",
                   "add `$X` to `$L` so that it sits at index $N"],
     "$L.insert($N, $X)", ["python.library.stdtypes#list.insert"]),
    ("last_item", ["get the last element of list `$L`", "return the final item of `$L`",
                   "access the last value stored in list `$L`"],
     "$L[-1]", []),
]

# ---------------------------------------------------------------------------
# CodeAlpacaPy-style families: (name, instruction phrasings, multi-line code, extra pools)
# Pools named here override POOLS for that family (FN = function name, P* = parameters).
# ---------------------------------------------------------------------------
CODEALPACA_FAMILIES = [
    ("count_vowels", ["Write a function `$FN` that counts the vowels in a string `$PS`.",
                      "Create a Python function `$FN` that returns how many vowels the string `$PS` contains."],
     "def $FN($PS):\n    count = 0\n    for ch in $PS:\n        if ch in 'aeiou':\n            count += 1\n    return count",
     {"FN": ["count_vowels", "vowel_count", "num_vowels", "get_vowel_count", "vowels_in"]}),
    ("factorial", ["Write a function `$FN` that computes the factorial of `$PN`.",
                   "Implement `$FN` to return the factorial of the integer `$PN`."],
     "def $FN($PN):\n    result = 1\n    for i in range(2, $PN + 1):\n        result *= i\n    return result",
     {"FN": ["factorial", "fact", "compute_factorial", "get_factorial", "factorial_of"]}),
    ("is_prime", ["Write a function `$FN` that checks whether the number `$PN` is prime.",
                  "Create a function `$FN` returning True if `$PN` is a prime number."],
     "def $FN($PN):\n    if $PN < 2:\n        return False\n    for i in range(2, int($PN ** 0.5) + 1):\n        if $PN % i == 0:\n            return False\n    return True",
     {"FN": ["is_prime", "check_prime", "prime", "test_prime", "is_prime_number"]}),
    ("fibonacci", ["Write a function `$FN` that returns the first `$PN` Fibonacci numbers as a list.",
                   "Generate a list of the first `$PN` numbers of the Fibonacci sequence in a function `$FN`."],
     "def $FN($PN):\n    seq = []\n    a, b = 0, 1\n    for _ in range($PN):\n        seq.append(a)\n        a, b = b, a + b\n    return seq",
     {"FN": ["fibonacci", "fib_list", "fib_sequence", "first_fibs", "make_fibonacci"]}),
    ("reverse_string", ["Write a function `$FN` that reverses the string `$PS`.",
                        "Create a function `$FN` that returns the string `$PS` backwards."],
     "def $FN($PS):\n    return $PS[::-1]",
     {"FN": ["reverse_string", "reverse", "rev", "reverse_text", "backwards"]}),
    ("is_palindrome", ["Write a function `$FN` that checks if the string `$PS` is a palindrome.",
                       "Create a function `$FN` returning True when `$PS` reads the same forwards and backwards."],
     "def $FN($PS):\n    cleaned = $PS.lower()\n    return cleaned == cleaned[::-1]",
     {"FN": ["is_palindrome", "palindrome", "check_palindrome", "is_pal", "same_backwards"]}),
    ("sum_even", ["Write a function `$FN` that returns the sum of the even numbers in the list `$PL`.",
                  "Create a function `$FN` that adds up all even values of `$PL`."],
     "def $FN($PL):\n    total = 0\n    for n in $PL:\n        if n % 2 == 0:\n            total += n\n    return total",
     {"FN": ["sum_even", "sum_of_evens", "even_sum", "add_evens", "total_even"]}),
    ("find_max", ["Write a function `$FN` that finds the largest number in the list `$PL` without using max.",
                  "Implement `$FN` which loops over `$PL` and returns its maximum value."],
     "def $FN($PL):\n    best = $PL[0]\n    for n in $PL[1:]:\n        if n > best:\n            best = n\n    return best",
     {"FN": ["find_max", "largest", "get_max", "max_value", "biggest"]}),
    ("c_to_f", ["Write a function `$FN` that converts a temperature `$PN` from Celsius to Fahrenheit.",
                "Create `$FN` to turn the Celsius value `$PN` into Fahrenheit."],
     "def $FN($PN):\n    return $PN * 9 / 5 + 32",
     {"FN": ["celsius_to_fahrenheit", "c_to_f", "to_fahrenheit", "convert_temp", "cels_to_fahr"],
      "PN": ["celsius", "c", "temp", "degrees", "t"]}),
    ("count_words", ["Write a function `$FN` that counts the words in the sentence `$PS`.",
                     "Create a function `$FN` that returns the number of words in `$PS`."],
     "def $FN($PS):\n    return len($PS.split())",
     {"FN": ["count_words", "word_count", "num_words", "get_word_count", "words_in"]}),
    ("dedup", ["Write a function `$FN` that removes duplicates from the list `$PL` and keeps the order.",
               "Create `$FN` which returns the items of `$PL` without repeats, in their first order."],
     "def $FN($PL):\n    seen = set()\n    result = []\n    for item in $PL:\n        if item not in seen:\n            seen.add(item)\n            result.append(item)\n    return result",
     {"FN": ["remove_duplicates", "dedup", "unique", "drop_duplicates", "distinct"]}),
    ("class_two_attrs", ["Create a class `$CLS` with attributes `$PA` and `$PA2`.",
                         "Define a Python class `$CLS` whose constructor stores `$PA` and `$PA2`."],
     "class $CLS:\n    def __init__(self, $PA, $PA2):\n        self.$PA = $PA\n        self.$PA2 = $PA2",
     {"CLS": ["Car", "Book", "Student", "Point", "Product", "Employee", "Animal", "Account",
              "Movie", "City", "Bicycle", "Course"]}),
    ("print_range", ["Write a loop that prints the numbers from 1 to $G.",
                     "Print every integer from 1 up to $G using a for loop."],
     "for i in range(1, $G + 1):\n    print(i)", {}),
    ("squares_list", ["Create a list `$PV` with the squares of the numbers from 0 to $G.",
                      "Build a list named `$PV` holding i squared for every i from 0 to $G."],
     "$PV = [i ** 2 for i in range($G + 1)]", {}),
    ("lists_to_dict", ["Write a function `$FN` that builds a dictionary from the lists `$PL` and `$PL2`.",
                       "Create a function `$FN` that maps each element of `$PL` to the element of `$PL2` at the same index."],
     "def $FN($PL, $PL2):\n    result = {}\n    for k, v in zip($PL, $PL2):\n        result[k] = v\n    return result",
     {"FN": ["lists_to_dict", "make_dict", "pair_up", "zip_to_dict", "build_mapping"]}),
    ("average", ["Write a function `$FN` that returns the average of the numbers in `$PL`.",
                 "Create `$FN` that computes the mean value of the list `$PL`."],
     "def $FN($PL):\n    if not $PL:\n        return 0\n    return sum($PL) / len($PL)",
     {"FN": ["average", "mean", "get_average", "compute_mean", "avg"]}),
    ("gcd", ["Write a function `$FN` that computes the greatest common divisor of `$PN` and `$PN2`.",
             "Implement Euclid's algorithm in a function `$FN` taking `$PN` and `$PN2`."],
     "def $FN($PN, $PN2):\n    while $PN2:\n        $PN, $PN2 = $PN2, $PN % $PN2\n    return $PN",
     {"FN": ["gcd", "greatest_common_divisor", "euclid", "compute_gcd", "hcf"]}),
    ("long_words", ["Write a function `$FN` that returns the words in the list `$PW` longer than $N characters.",
                    "Create `$FN` which keeps only the strings of `$PW` with more than $N letters."],
     "def $FN($PW):\n    return [w for w in $PW if len(w) > $N]",
     {"FN": ["long_words", "filter_long", "words_longer", "keep_long", "longer_than"]}),
    ("bubble_sort", ["Write a function `$FN` that sorts the list `$PL` with bubble sort.",
                     "Implement bubble sort in a function `$FN` that sorts `$PL` in place and returns it."],
     "def $FN($PL):\n    n = len($PL)\n    for i in range(n):\n        for j in range(n - i - 1):\n            if $PL[j] > $PL[j + 1]:\n                $PL[j], $PL[j + 1] = $PL[j + 1], $PL[j]\n    return $PL",
     {"FN": ["bubble_sort", "sort_bubble", "bubblesort", "simple_sort", "sort_in_place"]}),
    ("binary_search", ["Write a function `$FN` that performs binary search for `$PX` in the sorted list `$PL`.",
                       "Implement `$FN` returning the index of `$PX` in the sorted list `$PL`, or -1."],
     "def $FN($PL, $PX):\n    low, high = 0, len($PL) - 1\n    while low <= high:\n        mid = (low + high) // 2\n        if $PL[mid] == $PX:\n            return mid\n        if $PL[mid] < $PX:\n            low = mid + 1\n        else:\n            high = mid - 1\n    return -1",
     {"FN": ["binary_search", "bsearch", "search_sorted", "find_index", "bin_search"]}),
    ("char_freq", ["Write a function `$FN` that counts how often each character occurs in `$PS`.",
                   "Create `$FN` returning a dictionary with the frequency of every character of `$PS`."],
     "def $FN($PS):\n    freq = {}\n    for ch in $PS:\n        freq[ch] = freq.get(ch, 0) + 1\n    return freq",
     {"FN": ["char_frequency", "count_chars", "char_counts", "letter_freq", "frequencies"]}),
    ("capitalize_words", ["Write a function `$FN` that capitalizes the first letter of every word in `$PS`.",
                          "Create `$FN` which returns `$PS` with each word starting with a capital letter."],
     "def $FN($PS):\n    return ' '.join(w.capitalize() for w in $PS.split())",
     {"FN": ["capitalize_words", "title_case", "cap_words", "upper_first", "capitalize_all"]}),
    ("power", ["Write a function `$FN` that raises `$PN` to the power `$PN2` with a loop.",
               "Create `$FN` computing `$PN` to the power of `$PN2` by repeated multiplication."],
     "def $FN($PN, $PN2):\n    result = 1\n    for _ in range($PN2):\n        result *= $PN\n    return result",
     {"FN": ["power", "pow_loop", "raise_to", "exponent", "compute_power"]}),
    ("swap", ["Write code that swaps the values of `$PA` and `$PA2`.",
              "Swap the two variables `$PA` and `$PA2` in one statement."],
     "$PA, $PA2 = $PA2, $PA", {}),
    ("count_lines", ["Write a function `$FN` that returns the number of lines in the file named `$PF`.",
                     "Create `$FN` that opens the file `$PF` and counts its lines."],
     "def $FN($PF):\n    with open($PF) as f:\n        return len(f.readlines())",
     {"FN": ["count_lines", "line_count", "num_lines", "lines_in_file", "file_length"]}),
    ("times_table", ["Print the multiplication table of $G.",
                     "Write a loop that prints $G times each number from 1 to 10."],
     "for i in range(1, 11):\n    print($G, 'x', i, '=', $G * i)", {}),
    ("print_dict", ["Print each key and value of the dictionary `$D`.",
                    "Loop over the dictionary `$D` and print every key with its value."],
     "for key, value in $D.items():\n    print(key, value)", {}),
    ("safe_int", ["Write a function `$FN` that converts `$PS` to an integer and returns None if it fails.",
                  "Create `$FN` which tries to parse `$PS` as an int and returns None on a ValueError."],
     "def $FN($PS):\n    try:\n        return int($PS)\n    except ValueError:\n        return None",
     {"FN": ["safe_int", "to_int", "parse_int", "try_int", "int_or_none"]}),
    ("even_odd", ["Write a function `$FN` that returns 'even' or 'odd' for the number `$PN`.",
                  "Create `$FN` which tells whether `$PN` is even or odd as a string."],
     "def $FN($PN):\n    if $PN % 2 == 0:\n        return 'even'\n    return 'odd'",
     {"FN": ["even_or_odd", "parity", "check_parity", "odd_even", "number_type"]}),
    ("digit_sum", ["Write a function `$FN` that returns the sum of the digits of `$PN`.",
                   "Create `$FN` adding up every digit of the non-negative integer `$PN`."],
     "def $FN($PN):\n    total = 0\n    while $PN > 0:\n        total += $PN % 10\n        $PN //= 10\n    return total",
     {"FN": ["digit_sum", "sum_digits", "add_digits", "digits_total", "sum_of_digits"]}),
]

CODEALPACA_PARAM_POOLS = {
    "PS": ["s", "text", "word", "string", "sentence", "phrase", "line", "msg"],
    "PN": ["n", "num", "number", "x", "k", "value", "a", "b", "m"],
    "PL": ["nums", "numbers", "arr", "lst", "values", "items", "data", "seq"],
    "PW": ["words", "strings", "names", "tokens", "terms"],
    "PX": ["target", "x", "key", "value", "item"],
    "PA": ["name", "color", "age", "year", "price", "title", "speed", "x", "y", "width",
           "height", "owner", "size", "model", "brand"],
    "PV": ["squares", "result", "values", "sq", "table", "out", "powers"],
    "PF": ["filename", "path", "fname", "file_path", "name"],
}


# ---------------------------------------------------------------------------
# Instruction datasets: draw unique (intent, code) samples family by family.
# Splits are drawn test first; an intent or a code string used once is never reused,
# so test intents and test code never occur in train (new names/values, seen families).
# ---------------------------------------------------------------------------
def split_quotas(total: int, n_families: int, rng: Random) -> list[int]:
    """Spread `total` samples over the families as evenly as possible."""
    quotas = [total // n_families] * n_families
    for i in rng.sample(range(n_families), total % n_families):
        quotas[i] += 1
    return quotas


def draw_samples(families, sizes: dict[str, int], pools_for, rng: Random):
    """{split: [(family_index, intent, code)]} with intents and codes unique overall."""
    used_intents: set[str] = set()
    used_codes: set[str] = set()
    out: dict[str, list[tuple[int, str, str]]] = {}
    for split, total in sizes.items():
        rows = []
        for fam_index, quota in enumerate(split_quotas(total, len(families), rng)):
            _, phrasings, code, *_ = families[fam_index]
            pools = pools_for(families[fam_index])
            for _ in range(quota):
                for _attempt in range(500):
                    phrasing = rng.choice(phrasings)
                    values = fill(rng, [phrasing, code], pools)
                    intent = Template(phrasing).substitute(values)
                    snippet = Template(code).substitute(values)
                    if intent not in used_intents and snippet not in used_codes:
                        break
                else:
                    raise RuntimeError(f"family {families[fam_index][0]}: slot pools too small")
                used_intents.add(intent)
                used_codes.add(snippet)
                rows.append((fam_index, intent, snippet))
        rng.shuffle(rows)
        out[split] = rows
    return out


def canonical_cmd(intent: str, cmd: str) -> str:
    """The dataset's canonical form: names and quoted strings of the intent become VAR_STR."""
    for name in re.findall(r"`([^`]+)`", intent):
        if name.isidentifier():
            cmd = re.sub(rf"\b{re.escape(name)}\b", "VAR_STR", cmd)
    for literal in re.findall(r"'([^']+)'", intent):
        cmd = cmd.replace(f"'{literal}'", "'VAR_STR'")
    return cmd


def build_conala(rng: Random) -> dict[str, list[dict]]:
    drawn = draw_samples(CONALA_FAMILIES, CONALA_SIZES, lambda fam: POOLS, rng)
    question_ids = rng.sample(range(1_000_000, 60_000_000), sum(CONALA_SIZES.values()))
    splits, k = {}, 0
    for split in ("train", "validation", "test"):
        rows = []
        for fam_index, intent, cmd in drawn[split]:
            rows.append({
                "question_id": f"{question_ids[k]}-{rng.randint(0, 99)}",
                "nl": intent,
                "cmd": cmd,
                "oracle_man": list(CONALA_FAMILIES[fam_index][3]),
                "canonical_cmd": canonical_cmd(intent, cmd),
                "cmd_name": "conala",
            })
            k += 1
        splits[split] = rows
    return splits


def build_codealpaca(rng: Random) -> dict[str, list[dict]]:
    def pools_for(family):
        return {**POOLS, **CODEALPACA_PARAM_POOLS, **family[3]}

    drawn = draw_samples(CODEALPACA_FAMILIES, CODEALPACA_SIZES, pools_for, rng)
    return {split: [{"nl": intent, "cmd": code} for _, intent, code in drawn[split]]
            for split in ("train", "valid", "test")}


# ---------------------------------------------------------------------------
# APPS-style problems. Each family has 4 parameterised instances; expected outputs come
# from a separate oracle written here (often brute force), and the bundled solutions are
# checked against them by tests/test_bundled_data.py in a subprocess.
# ---------------------------------------------------------------------------
def _ints(rng: Random, n: int, low: int, high: int) -> list[int]:
    return [rng.randint(low, high) for _ in range(n)]


def _stdin_array(values: list[int]) -> str:
    return f"{len(values)}\n{' '.join(map(str, values))}\n"


def _stdin_question(story: str, input_spec: str, output_spec: str, example_in: str,
                    example_out: str) -> str:
    return (f"{story}\n\n-----Input-----\n\n{input_spec}\n\n-----Output-----\n\n{output_spec}\n\n"
            f"-----Examples-----\nInput\n{example_in}\nOutput\n{example_out}\n")


def _call_question(story: str, call: str, result) -> str:
    return f"{story}\n\nExample:\n\n{call} -> {json.dumps(result)}\n"


def fam_sum_divisible():
    def make(k):
        return {
            "difficulty": "introductory", "fn_name": None, "starter_code": "",
            "story": (f"Petya wrote down n integers. Print the sum of those numbers that are "
                      f"divisible by {k}."),
            "input_spec": ("The first line contains n (1 <= n <= 100). The second line contains "
                           "n integers a_i (-1000 <= a_i <= 1000)."),
            "output_spec": f"Print one integer: the sum of the numbers divisible by {k}.",
            "solutions": [
                f"n = int(input())\nnums = list(map(int, input().split()))\n"
                f"print(sum(x for x in nums if x % {k} == 0))\n",
                f"input()\ntotal = 0\nfor token in input().split():\n    value = int(token)\n"
                f"    if value % {k} == 0:\n        total += value\nprint(total)\n"],
            "random_input": lambda rng: _stdin_array(_ints(rng, rng.randint(1, 12), -50, 50)),
            "oracle": lambda text: f"{sum(v for v in map(int, text.split()[1:]) if v % k == 0)}\n",
        }
    return [make(k) for k in (2, 3, 5, 7)]


def fam_count_letter():
    def make(letter):
        count = lambda s: len([c for c in s if c == letter])  # noqa: E731
        return {
            "difficulty": "introductory", "fn_name": "count_letter",
            "starter_code": "def count_letter(s):\n    ",
            "story": (f"Write a function count_letter(s) that returns how many times the letter "
                      f"'{letter}' appears in the lowercase string s."),
            "solutions": [f"def count_letter(s):\n    return s.count('{letter}')\n",
                          f"def count_letter(s):\n    total = 0\n    for ch in s:\n"
                          f"        if ch == '{letter}':\n            total += 1\n    return total\n"],
            "random_input": lambda rng: ["".join(rng.choice("abeostxyz") for _ in range(rng.randint(0, 15)))],
            "oracle": lambda args: [count(args[0])],
        }
    return [make(c) for c in "aeos"]


def fam_long_words():
    def make(k):
        return {
            "difficulty": "introductory", "fn_name": None, "starter_code": "",
            "story": f"You are given a line of text. Count the words that have at least {k} letters.",
            "input_spec": "One line of lowercase words separated by single spaces (at most 100 words).",
            "output_spec": f"Print the number of words of length at least {k}.",
            "solutions": [f"words = input().split()\nprint(len([w for w in words if len(w) >= {k}]))\n"],
            "random_input": lambda rng: " ".join(
                "".join(rng.choice("abcdeilnorstu") for _ in range(rng.randint(1, 8)))
                for _ in range(rng.randint(1, 10))) + "\n",
            "oracle": lambda text: f"{sum(1 for w in text.split() if len(w) >= k)}\n",
        }
    return [make(k) for k in (3, 4, 5, 6)]


def fam_count_divisible():
    def make(k):
        return {
            "difficulty": "introductory", "fn_name": "countDivisible",
            "starter_code": "class Solution:\n    def countDivisible(self, nums):\n        ",
            "story": (f"Given an integer array nums, return how many of its elements are "
                      f"divisible by {k}."),
            "solutions": [f"class Solution:\n    def countDivisible(self, nums):\n"
                          f"        return sum(1 for x in nums if x % {k} == 0)\n"],
            "random_input": lambda rng: [_ints(rng, rng.randint(0, 10), -30, 30)],
            "oracle": lambda args: [len([x for x in args[0] if x % k == 0])],
        }
    return [make(k) for k in (2, 3, 4, 6)]


def fam_longest_run():
    relations = [(">", "strictly increasing"), (">=", "non-decreasing"),
                 ("<", "strictly decreasing"), ("==", "made of equal values")]

    def make(op, words):
        def oracle(text):
            a = list(map(int, text.split()[1:]))
            ok = {">": lambda x, y: x > y, ">=": lambda x, y: x >= y,
                  "<": lambda x, y: x < y, "==": lambda x, y: x == y}[op]
            best = max(j - i for i in range(len(a)) for j in range(i + 1, len(a) + 1)
                       if all(ok(a[t], a[t - 1]) for t in range(i + 1, j)))
            return f"{best}\n"
        return {
            "difficulty": "interview", "fn_name": None, "starter_code": "",
            "story": (f"Find the length of the longest contiguous segment of the array that is "
                      f"{words}."),
            "input_spec": "The first line contains n (1 <= n <= 10^5), the second n integers a_i.",
            "output_spec": "Print the maximum length of such a segment.",
            "solutions": [f"n = int(input())\na = list(map(int, input().split()))\nbest = cur = 1\n"
                          f"for i in range(1, n):\n    if a[i] {op} a[i - 1]:\n        cur += 1\n"
                          f"    else:\n        cur = 1\n    best = max(best, cur)\nprint(best)\n"],
            "random_input": lambda rng: _stdin_array(_ints(rng, rng.randint(1, 12), 1, 5)),
            "oracle": oracle,
        }
    return [make(op, words) for op, words in relations]


def fam_k_distinct_substring():
    def make(k):
        def oracle(args):
            s = args[0]
            return [max([j - i for i in range(len(s)) for j in range(i + 1, len(s) + 1)
                         if len(set(s[i:j])) <= k], default=0)]
        return {
            "difficulty": "interview", "fn_name": "longestSubstring",
            "starter_code": "class Solution:\n    def longestSubstring(self, s):\n        ",
            "story": (f"Given a string s, return the length of the longest substring that contains "
                      f"at most {k} distinct characters."),
            "solutions": [
                f"class Solution:\n    def longestSubstring(self, s):\n        counts = {{}}\n"
                f"        left = best = 0\n        for right, ch in enumerate(s):\n"
                f"            counts[ch] = counts.get(ch, 0) + 1\n            while len(counts) > {k}:\n"
                f"                counts[s[left]] -= 1\n                if counts[s[left]] == 0:\n"
                f"                    del counts[s[left]]\n                left += 1\n"
                f"            best = max(best, right - left + 1)\n        return best\n"],
            "random_input": lambda rng: ["".join(rng.choice("abcd") for _ in range(rng.randint(0, 12)))],
            "oracle": oracle,
        }
    return [make(k) for k in (1, 2, 3, 4)]


def fam_window_sum():
    def make(k):
        def oracle(text):
            a = list(map(int, text.split()[1:]))
            return f"{max(sum(a[i:i + k]) for i in range(len(a) - k + 1))}\n"
        return {
            "difficulty": "interview", "fn_name": None, "starter_code": "",
            "story": f"Find the maximum sum of {k} consecutive elements of the array.",
            "input_spec": (f"The first line contains n ({k} <= n <= 2*10^5), the second line n "
                           f"integers a_i (|a_i| <= 10^9)."),
            "output_spec": f"Print the largest sum of {k} consecutive elements.",
            "solutions": [f"n = int(input())\na = list(map(int, input().split()))\n"
                          f"window = sum(a[:{k}])\nbest = window\nfor i in range({k}, n):\n"
                          f"    window += a[i] - a[i - {k}]\n    best = max(best, window)\nprint(best)\n"],
            "random_input": lambda rng: _stdin_array(_ints(rng, rng.randint(k, k + 8), -20, 20)),
            "oracle": oracle,
        }
    return [make(k) for k in (2, 3, 4, 5)]


def fam_kth_distinct():
    def make(k):
        ordinal = {1: "1st", 2: "2nd", 3: "3rd"}.get(k, f"{k}th")
        def oracle(args):
            distinct = sorted(set(args[0]))
            return [distinct[k - 1] if len(distinct) >= k else -1]
        return {
            "difficulty": "interview", "fn_name": "kth_distinct",
            "starter_code": "def kth_distinct(nums):\n    ",
            "story": (f"Write a function kth_distinct(nums) that returns the {ordinal} smallest "
                      f"distinct value of the list nums, or -1 if nums has fewer than {k} distinct values."),
            "solutions": [f"def kth_distinct(nums):\n    values = sorted(set(nums))\n"
                          f"    if len(values) < {k}:\n        return -1\n    return values[{k - 1}]\n"],
            "random_input": lambda rng: [_ints(rng, rng.randint(0, 9), 0, 9)],
            "oracle": oracle,
        }
    return [make(k) for k in (1, 2, 3, 4)]


def fam_pairs_divisible():
    def make(m):
        def oracle(text):
            a = list(map(int, text.split()[1:]))
            pairs = sum(1 for i in range(len(a)) for j in range(i + 1, len(a)) if (a[i] + a[j]) % m == 0)
            return f"{pairs}\n"
        return {
            "difficulty": "competition", "fn_name": None, "starter_code": "",
            "story": (f"Count the pairs of indices i < j such that a_i + a_j is divisible by {m}. "
                      f"The array can be long, so a quadratic algorithm is too slow."),
            "input_spec": "The first line contains n (1 <= n <= 2*10^5), the second n integers 0 <= a_i <= 10^9.",
            "output_spec": "Print the number of such pairs.",
            "solutions": [f"n = int(input())\na = list(map(int, input().split()))\n"
                          f"seen = [0] * {m}\npairs = 0\nfor x in a:\n    r = x % {m}\n"
                          f"    pairs += seen[(-r) % {m}]\n    seen[r] += 1\nprint(pairs)\n"],
            "random_input": lambda rng: _stdin_array(_ints(rng, rng.randint(1, 12), 0, 30)),
            "oracle": oracle,
        }
    return [make(m) for m in (2, 3, 5, 7)]


def fam_climb_stairs():
    def make(k):
        def oracle(args):
            ways = [1]
            for i in range(1, args[0] + 1):
                ways.append(sum(ways[max(0, i - k):i]))
            return [ways[args[0]] % 1_000_000_007]
        return {
            "difficulty": "competition", "fn_name": "countWays",
            "starter_code": "class Solution:\n    def countWays(self, n):\n        ",
            "story": (f"You climb a staircase of n steps, taking between 1 and {k} steps at a time. "
                      f"Return the number of different ways to reach the top, modulo 10^9 + 7. "
                      f"n can be as large as 10^5."),
            "solutions": [f"class Solution:\n    def countWays(self, n):\n        mod = 10 ** 9 + 7\n"
                          f"        ways = [1] + [0] * n\n        window = 1\n"
                          f"        for i in range(1, n + 1):\n            ways[i] = window % mod\n"
                          f"            window += ways[i]\n            if i - {k} >= 0:\n"
                          f"                window -= ways[i - {k}]\n        return ways[n] % mod\n"],
            "random_input": lambda rng: [rng.randint(0, 60)],
            "oracle": oracle,
        }
    return [make(k) for k in (2, 3, 4, 5)]


def fam_grid_components():
    def make(cell, conn):
        moves = ([(0, 1), (1, 0), (0, -1), (-1, 0)] if conn == 4 else
                 [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)])

        def oracle(text):
            lines = text.split("\n")
            rows, cols = map(int, lines[0].split())
            grid = lines[1:rows + 1]
            parent = {(r, c): (r, c) for r in range(rows) for c in range(cols) if grid[r][c] == cell}

            def find(p):
                while parent[p] != p:
                    p = parent[p]
                return p
            for (r, c) in list(parent):
                for dr, dc in moves:
                    if (r + dr, c + dc) in parent:
                        parent[find((r + dr, c + dc))] = find((r, c))
            return f"{len({find(p) for p in parent})}\n"

        def random_input(rng):
            rows, cols = rng.randint(1, 6), rng.randint(1, 6)
            grid = ["".join(rng.choice(".#") for _ in range(cols)) for _ in range(rows)]
            return f"{rows} {cols}\n" + "\n".join(grid) + "\n"
        name = "empty cells '.'" if cell == "." else "wall cells '#'"
        link = "share a side" if conn == 4 else "share a side or a corner"
        return {
            "difficulty": "competition", "fn_name": None, "starter_code": "",
            "story": (f"A map is a grid of '.' and '#'. Two {name} belong to the same region when "
                      f"they {link}, directly or through other such cells. Count the regions of {name}."),
            "input_spec": "The first line contains r and c (1 <= r, c <= 1000), then r lines of c characters.",
            "output_spec": "Print the number of regions.",
            "solutions": [f"import sys\nfrom collections import deque\n\n"
                          f"def main():\n    data = sys.stdin.read().split()\n"
                          f"    r, c = int(data[0]), int(data[1])\n    grid = data[2:2 + r]\n"
                          f"    moves = {moves!r}\n    seen = [[False] * c for _ in range(r)]\n"
                          f"    regions = 0\n    for i in range(r):\n        for j in range(c):\n"
                          f"            if grid[i][j] != {cell!r} or seen[i][j]:\n                continue\n"
                          f"            regions += 1\n            seen[i][j] = True\n"
                          f"            queue = deque([(i, j)])\n            while queue:\n"
                          f"                x, y = queue.popleft()\n                for dx, dy in moves:\n"
                          f"                    nx, ny = x + dx, y + dy\n"
                          f"                    if 0 <= nx < r and 0 <= ny < c and not seen[nx][ny] "
                          f"and grid[nx][ny] == {cell!r}:\n"
                          f"                        seen[nx][ny] = True\n"
                          f"                        queue.append((nx, ny))\n    print(regions)\n\n\nmain()\n"],
            "random_input": random_input,
            "oracle": oracle,
        }
    return [make(cell, conn) for cell, conn in ((".", 4), ("#", 4), (".", 8), ("#", 8))]


def fam_min_coins():
    def make(coins):
        def oracle(args):
            best = {0: 0}
            frontier = [0]
            while frontier:  # breadth-first over sums: the first time a sum is reached is optimal
                nxt = []
                for total in frontier:
                    for coin in coins:
                        if total + coin <= args[0] and total + coin not in best:
                            best[total + coin] = best[total] + 1
                            nxt.append(total + coin)
                frontier = nxt
            return [best.get(args[0], -1)]
        return {
            "difficulty": "competition", "fn_name": "min_coins",
            "starter_code": "def min_coins(amount):\n    ",
            "story": (f"Coins have the values {', '.join(map(str, coins))} and every value is available "
                      f"without limit. Write min_coins(amount) returning the fewest coins whose values "
                      f"add up to amount exactly, or -1 when it is impossible."),
            "solutions": [f"def min_coins(amount):\n    coins = {list(coins)!r}\n"
                          f"    inf = float('inf')\n    best = [0] + [inf] * amount\n"
                          f"    for total in range(1, amount + 1):\n        for coin in coins:\n"
                          f"            if coin <= total and best[total - coin] + 1 < best[total]:\n"
                          f"                best[total] = best[total - coin] + 1\n"
                          f"    return -1 if best[amount] == inf else best[amount]\n"],
            "random_input": lambda rng: [rng.randint(0, 40)],
            "oracle": oracle,
        }
    return [make(c) for c in ((1, 5, 10, 25), (2, 5), (3, 7), (1, 4, 6))]


APPS_FAMILIES = [fam_sum_divisible, fam_count_letter, fam_long_words, fam_count_divisible,
                 fam_longest_run, fam_k_distinct_substring, fam_window_sum, fam_kth_distinct,
                 fam_pairs_divisible, fam_climb_stairs, fam_grid_components, fam_min_coins]


def make_apps_problem(spec: dict, rng: Random) -> dict:
    """One APPS row (without problem_id/url) with 2-6 distinct test cases."""
    inputs: list = []
    n_tests = rng.randint(3, 6)
    while len(inputs) < n_tests:
        candidate = spec["random_input"](rng)
        if candidate not in inputs:
            inputs.append(candidate)
    outputs = [spec["oracle"](x) for x in inputs]
    if spec["fn_name"] is None:
        question = _stdin_question(spec["story"], spec["input_spec"], spec["output_spec"],
                                   inputs[0], outputs[0])
        input_output = {"inputs": inputs, "outputs": outputs}
    else:
        call = f"{spec['fn_name']}({', '.join(json.dumps(a) for a in inputs[0])})"
        question = _call_question(spec["story"], call, outputs[0][0])
        input_output = {"fn_name": spec["fn_name"], "inputs": inputs, "outputs": outputs}
    return {
        "question": question,
        "solutions": json.dumps(spec["solutions"]),
        "input_output": json.dumps(input_output),
        "difficulty": spec["difficulty"],
        "starter_code": spec["starter_code"],
    }


def build_apps(rng: Random) -> dict[str, list[dict]]:
    by_difficulty: dict[str, list[dict]] = {d: [] for d in DIFFICULTIES}
    for family in APPS_FAMILIES:
        for spec in family():
            by_difficulty[spec["difficulty"]].append(make_apps_problem(spec, rng))
    train, test = [], []
    for difficulty in ("interview", "competition", "introductory"):  # the hub test split's order
        problems = by_difficulty[difficulty]
        rng.shuffle(problems)
        test += problems[:APPS_TEST_PER_DIFFICULTY]
        train += problems[APPS_TEST_PER_DIFFICULTY:]
    rng.shuffle(train)
    splits = {}
    for split, rows in (("train", train), ("test", test)):
        splits[split] = [{"problem_id": i, **row,
                          "url": f"https://example.invalid/peft-code-repro/apps/{split}/{i}"}
                         for i, row in enumerate(rows)]
    return splits


# ---------------------------------------------------------------------------
# Pre-training corpus: code lines, small functions and English sentences with the tasks'
# vocabulary, shuffled. It never pairs an intent with its code: no intent of any split
# appears in it, no split's code appears as a line or block, and no prompt template is used.
# ---------------------------------------------------------------------------
NOUNS = ["list", "dictionary", "dict", "string", "file", "number", "value", "key", "item",
         "element", "word", "character", "letter", "path", "directory", "folder", "integer",
         "float", "function", "class", "variable", "loop", "sentence", "digit", "space",
         "separator", "delimiter", "prefix", "suffix", "position", "index", "length", "table",
         "result", "text", "name", "entry", "line", "object", "matrix", "sequence", "pair"]
VERBS = ["sort", "convert", "get", "find", "count", "remove", "replace", "split", "join",
         "check", "create", "read", "append", "add", "delete", "merge", "swap", "parse",
         "round", "pad", "flatten", "pick", "insert", "reverse", "square", "map", "filter",
         "make", "compute", "return", "write", "print", "build", "combine", "load", "encode",
         "serialize", "decode", "extract", "trim", "strip", "test", "take", "slice", "keep",
         "drop", "order", "turn", "change", "push", "extend", "select", "choose", "generate",
         "define", "implement", "open", "store", "access", "pair", "look"]
ADJECTIVES = ["small", "large", "sorted", "empty", "long", "short", "unique", "nested", "random",
              "positive", "negative", "even", "odd", "lowercase", "uppercase", "first", "last",
              "whole", "single", "original", "new", "old", "final", "current", "same"]
FRAMES = ["The {adj} {noun} is kept in a {noun2}.", "We often {verb} a {noun} before we use it.",
          "A {noun} can hold more than one {noun2}.", "Remember to {verb} the {adj} {noun} carefully.",
          "Every {noun} has a {noun2} of its own.", "It is easy to {verb} and {verb2} a {noun}.",
          "Some people {verb} the {noun} first and then {verb2} the {noun2}.",
          "The {noun2} of this {noun} looks {adj}.", "Never {verb} a {noun} that is {adj}.",
          "Programs {verb} data all day long.", "My {noun} became {adj} after the loop.",
          "A good {noun} is {adj} and clear.", "You may {verb} it when the {noun} is {adj}."]
WORD_RE = re.compile(r"[A-Za-z]+")


def intent_words(intents: list[str]) -> list[str]:
    """English words of the intents (outside backticks and quotes), sorted."""
    words = set()
    for intent in intents:
        prose = re.sub(r"`[^`]*`|'[^']*'", " ", intent)
        words.update(w.lower() for w in WORD_RE.findall(prose))
    return sorted(words)


def build_pretrain(rng: Random, conala: dict, codealpaca: dict) -> str:
    conala_rows = [r for rows in conala.values() for r in rows]
    alpaca_rows = [r for rows in codealpaca.values() for r in rows]
    split_codes = {r["cmd"] for r in conala_rows} | {r["cmd"] for r in alpaca_rows}
    units: list[str] = []
    for _, _, code, _ in CONALA_FAMILIES:
        for _ in range(80):
            snippet = Template(code).substitute(fill(rng, [code], POOLS))
            if snippet not in split_codes:
                units.append(snippet)
    for name in POOLS["L"]:
        units.append(f"{name} = {_ints(rng, rng.randint(2, 6), 0, 99)}")
    for name in POOLS["D"]:
        keys = rng.sample(POOLS["K"], 3)
        units.append(f"{name} = {{{', '.join(repr(k) + ': ' + str(rng.randint(0, 50)) for k in keys)}}}")
    for name in POOLS["S"] + POOLS["X"] + POOLS["V"]:
        units.append(f"print({name})")
    units += ["import os", "import re", "import json", "import random", "import sys"] * 8
    for family in CODEALPACA_FAMILIES:
        pools = {**POOLS, **CODEALPACA_PARAM_POOLS, **family[3]}
        for _ in range(25):
            block = Template(family[2]).substitute(fill(rng, [family[2]], pools))
            if block not in split_codes:
                units.append(block + "\n")
    for _ in range(3000):
        nouns, verbs = rng.sample(NOUNS, 2), rng.sample(VERBS, 2)
        units.append(rng.choice(FRAMES).format(noun=nouns[0], noun2=nouns[1], verb=verbs[0],
                                               verb2=verbs[1], adj=rng.choice(ADJECTIVES)))
    intents = [r["nl"] for r in conala_rows + alpaca_rows]
    text = "\n".join(units)
    present = set(w.lower() for w in WORD_RE.findall(text))
    missing = [w for w in intent_words(intents) if w not in present]
    for start in range(0, len(missing), 4):
        units.append(f"Other words to know: {', '.join(missing[start:start + 4])}.")
    identifiers = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    names = sorted({n for nl in intents for n in re.findall(r"`([^`]+)`", nl) if n.isidentifier()})
    units += [f"print({name})" for name in names if name not in identifiers]
    rng.shuffle(units)
    return "\n".join(units) + "\n"


# ---------------------------------------------------------------------------
# Rendering, writing and --check.
# ---------------------------------------------------------------------------
def render_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)


def build_all() -> dict[str, str]:
    """Relative path under repro/bundled/ -> file text. Pure function of SEED."""
    files: dict[str, str] = {}
    conala = build_conala(Random(f"{SEED}-conala"))
    codealpaca = build_codealpaca(Random(f"{SEED}-codealpacapy"))
    apps = build_apps(Random(f"{SEED}-apps"))
    for name, splits in (("conala", conala), ("codealpacapy", codealpaca), ("apps", apps)):
        for split, rows in splits.items():
            files[f"{name}/{split}.jsonl"] = render_jsonl(rows)
    files["pretrain.txt"] = build_pretrain(Random(f"{SEED}-pretrain"), conala, codealpaca)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory and exit 1 if the files on disk differ")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    args = parser.parse_args(argv)
    files = build_all()
    if args.check:
        stale = [rel for rel, text in sorted(files.items())
                 if not (args.out / rel).is_file()
                 or (args.out / rel).read_text(encoding="utf-8") != text]
        on_disk = sorted(p.relative_to(args.out).as_posix() for p in args.out.rglob("*")
                         if p.is_file() and p.name != "README.md"
                         and p.relative_to(args.out).parts[0] not in OTHER_GENERATORS)
        stale += [rel for rel in on_disk if rel not in files]  # left over, not generated
        for rel in stale:
            print(f"differs from the generator: {args.out / rel}", file=sys.stderr)
        if stale:
            print("fix: run `python tools/make_bundled_data.py` and commit the result",
                  file=sys.stderr)
            return 1
        print(f"ok: {len(files)} bundled files match the generator")
        return 0
    for rel, text in sorted(files.items()):
        os.chmod(write_atomic(args.out / rel, text), 0o644)  # mkstemp creates files 0600
    print(f"wrote {len(files)} files under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

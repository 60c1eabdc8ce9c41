"""Reading a manifest's YAML defensively: every way a file can be malformed or hostile is a
`ManifestError` naming the file and the limit, never a traceback or a runaway load.

Limits: file size, nesting depth and the number of values after YAML aliases are expanded
(an "alias bomb" is small on disk and huge when walked). Duplicate mapping keys and
non-finite numbers (`.nan`, `.inf`) are rejected; the file must be UTF-8.
PyYAML has no option for duplicate keys or node limits, hence the small loader subclass.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from repro.errors import ManifestError

MAX_BYTES = 2 * 1024 * 1024     # the largest real manifest directory is ~100 kB
MAX_DEPTH = 32                  # a manifest nests 5 levels deep
MAX_VALUES = 200_000            # values after aliases are expanded (the paper's manifests: ~20k)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # SafeLoader reports unhashable keys itself
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _too_big(file: str, what: str, limit: str, fix: str) -> ManifestError:
    return ManifestError(f"the manifest {what} (limit: {limit})", file=file, fix=fix)


def _walk(doc: Any, file: str) -> None:
    """Depth, expanded size and non-finite numbers, without recursion (a deep document must
    not exhaust Python's stack here either)."""
    stack = [(doc, 0, "")]
    count = 0
    while stack:
        value, depth, where = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise _too_big(file, f"expands to more than {MAX_VALUES:,} values", "MAX_VALUES in repro/manifest_yaml.py",
                           "remove YAML aliases that repeat large blocks, or split the manifest into several files")
        if depth > MAX_DEPTH:
            raise _too_big(file, f"nests deeper than {MAX_DEPTH} levels", "MAX_DEPTH in repro/manifest_yaml.py",
                           "flatten the structure; a manifest needs about 5 levels")
        if isinstance(value, float) and not math.isfinite(value):
            raise ManifestError(f"non-finite number {value!r}", file=file, field=where or "(top level)",
                                fix="write a finite number (`.nan` and `.inf` are not allowed)")
        if isinstance(value, dict):
            stack += [(v, depth + 1, f"{where}.{k}" if where else str(k)) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(v, depth + 1, f"{where}.{i}" if where else str(i)) for i, v in enumerate(value)]


def read_manifest_yaml(path: Path) -> Any:
    file = str(path)
    if path.suffix not in (".yaml", ".yml"):
        raise ManifestError(f"a manifest file must end in .yaml or .yml, not '{path.suffix or '(none)'}'", file=file,
                            fix="rename the file to *.yaml")
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ManifestError("not a regular file", file=file, fix="pass a manifest file or a directory of them")
        if size > MAX_BYTES:
            raise _too_big(file, f"is {size:,} bytes", f"{MAX_BYTES:,} bytes, MAX_BYTES in repro/manifest_yaml.py",
                           "split the manifest into several files in one directory")
        raw = path.read_bytes()
    except OSError as e:
        raise ManifestError(f"cannot read manifest: {e.strerror}", file=file,
                            fix="pass an existing, readable manifest file or directory")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ManifestError(f"not UTF-8 text (byte {e.start}: {raw[e.start:e.start + 1]!r})", file=file,
                            fix="save the manifest as UTF-8")
    try:
        doc = yaml.load(text, Loader=_StrictLoader)
    except RecursionError:
        raise _too_big(file, f"nests deeper than {MAX_DEPTH} levels", "MAX_DEPTH in repro/manifest_yaml.py",
                       "flatten the structure; a manifest needs about 5 levels")
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = str(getattr(e, "problem", None) or e)[:300]
        raise ManifestError(f"not valid YAML{where}: {problem}", file=file,
                            fix="fix the YAML (indentation, quotes, colons; each key once per mapping)")
    _walk(doc, file)
    return doc

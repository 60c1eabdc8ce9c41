"""`python -m repro` entry point: runs the CLI under a fixed hash seed.

peft writes module-name sets (an adapter's `target_modules`) in hash order, and the PyPI
`codebleu` package merges dataflow names through sets, so saved adapter configs and its
`codebleu-pypi` scores are byte-identical only under one `PYTHONHASHSEED`. An interpreter started without it
is replaced by one started with `PYTHONHASHSEED=0` (the value the pinned checksums were made
with); a different value the user chose is kept, with a warning.
"""
import os
import sys

seed = os.environ.get("PYTHONHASHSEED")
if seed is None:
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *[f"-{f}" for f in ("B",) if sys.flags.dont_write_bytecode],
                              "-m", "repro", *sys.argv[1:]])
if seed != "0":
    print(f"warning: PYTHONHASHSEED={seed}: saved adapter configs and codebleu-pypi scores can differ from "
          "the pinned checksums (made with PYTHONHASHSEED=0)", file=sys.stderr)

from repro.cli import main  # noqa: E402

raise SystemExit(main())

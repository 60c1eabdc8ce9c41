"""Manifests: YAML files (or a directory of them) that list every run and its reference numbers.

`load_manifest(path)` reads, validates (JSON Schema in `repro/schema/`, then cross-field
checks against the registry), merges `defaults` into each run, expands `matrix` sweeps and
returns a `Manifest`. Any problem raises `ManifestError` naming the file, run, field and fix.
"""
from __future__ import annotations

import copy
import fnmatch
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from repro.errors import ManifestError
from repro.registry import DATASETS, MODELS

# Package-wide defaults (the paper's settings); a manifest's `defaults` and each run override them.
BUILTIN_DEFAULTS: dict[str, Any] = {
    "kind": "evaluate",
    "eval_split": "test",
    "limit": None,
    "seed": 42,
    "adapter_from": None,
    "prompting": {"strategy": "zero-shot", "n": 0, "seed": 42, "retriever": "gte-small",
                  "template": "instruction", "example_format": "plain", "system_line": None},
    "tuning": {"method": "none", "learning_rate": None, "learning_rates": {}, "epochs": 5, "max_steps": None,
               "batch_size": 8, "gradient_accumulation_steps": 1, "eval_every_epoch_fraction": 0.2,
               "warmup_ratio": 0.05, "weight_decay": 0.0, "optimizer": "adafactor",
               "lr_scheduler": "linear", "precision": "auto", "max_length": 512,
               "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "bias": "none", "target_modules": None},
               "ia3": {"target_modules": None, "feedforward_modules": None},
               "num_virtual_tokens": 20, "prompt_init": "text",
               "quantization": {"bits": 4, "quant_type": "nf4", "double_quant": True,
                                "compute_dtype": "float16"}},
    "generation": {"strategy": "beam", "num_beams": 10, "num_return_sequences": 10,
                   "max_new_tokens": None, "temperature": 0.6, "top_p": 0.95, "stop": None,
                   "batch_size": 8},
    "metrics": ["em"],
    "reference": {},
}
# The paper's learning rate per method (PROTOCOL.md), used where a run gives none.
PAPER_LEARNING_RATES = {"full-ft": 5e-5, "lora": 3e-4, "ia3": 3e-4, "qlora-8bit": 3e-4,
                        "qlora-4bit": 3e-4, "prompt-tuning": 3e-3, "prefix-tuning": 3e-2}
QUANT_BITS = {"qlora-8bit": 8, "qlora-4bit": 4}


@dataclass
class Run:
    id: str
    config: dict[str, Any]
    source: str

    @property
    def rq(self) -> str:
        return self.config.get("rq", "")

    @property
    def kind(self) -> str:
        return self.config["kind"]

    @property
    def reference(self) -> dict[str, dict]:
        return self.config.get("reference", {})

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the resolved run (what resume and provenance key on)."""
        blob = json.dumps(self.config, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Manifest:
    path: str
    study: str
    runs: list[Run]
    claims: list[dict] = field(default_factory=list)
    description: str = ""
    report_tables: list[dict] = field(default_factory=list)   # tables `repro report` prints

    def get(self, run_id: str) -> Run:
        for r in self.runs:
            if r.id == run_id:
                return r
        raise ManifestError(f"no run with id '{run_id}'", file=self.path,
                            fix="list the run ids with `python -m repro list --manifest " + self.path + "`")

    def select(self, only: str | None = None, rq: str | None = None) -> list[Run]:
        """Runs matching a glob (or comma-separated globs) and an RQ; train runs that a
        selected evaluation needs are included."""
        runs = self.runs
        if only:
            pats = [p.strip() for p in only.split(",") if p.strip()]
            runs = [r for r in runs if any(fnmatch.fnmatchcase(r.id, p) for p in pats)]
        if rq:
            runs = [r for r in runs if r.rq.lower() == rq.lower()]
        needed = {r.config.get("adapter_from") for r in runs} - {None}
        ids = {r.id for r in runs}
        return [r for r in self.runs if r.id in ids or r.id in needed]


def registry_names() -> dict[str, list]:
    """The names the schema's `enum_from` entries stand for, read from the registries now."""
    from repro import tasks, tuning
    from repro.metrics import scorer_names

    owned = {kind: [name for t in tasks.all_tasks().values() for name in getattr(t, kind)]
             for kind in ("templates", "stop_rules")}
    return {"templates": owned["templates"], "stop-rules": [*owned["stop_rules"], None],
            "methods": list(tuning.METHODS), "trained-methods": [m for m in tuning.METHODS if m != "none"],
            "metrics": scorer_names()}


def _fill_enums(node, names: dict):
    if isinstance(node, dict):
        node = {k: _fill_enums(v, names) for k, v in node.items()}
        if "enum_from" in node:
            node["enum"] = names[node.pop("enum_from")]
        return node
    if isinstance(node, list):
        return [_fill_enums(v, names) for v in node]
    return node


def _schema() -> dict:
    """The manifest schema, its enums of templates, methods, stop rules and metrics taken
    from the registries (one source for names)."""
    raw = json.loads(resources.files("repro").joinpath("schema/manifest.schema.json").read_text())
    return _fill_enums(raw, registry_names())


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _set_path(d: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = value


def _get_path(d: dict, dotted: str) -> Any:
    for k in dotted.split("."):
        d = d[k]
    return d


_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)\}")


def _expand(run: dict, file: str) -> list[dict]:
    matrix = run.pop("matrix", None)
    if not matrix:
        if _PLACEHOLDER.search(run["id"]):
            raise ManifestError("the id has a `{...}` placeholder but the run has no matrix",
                                file=file, run=run["id"], field="id",
                                fix="add a `matrix:` entry for the placeholder or remove it from the id")
        return [run]
    paths = list(matrix)
    out = []
    for values in itertools.product(*(matrix[p] for p in paths)):
        r = copy.deepcopy(run)
        for p, v in zip(paths, values):
            _set_path(r, p, v)

        def sub(m: re.Match) -> str:
            try:
                return str(_get_path(r, m.group(1)))
            except (KeyError, TypeError):
                raise ManifestError(f"placeholder {{{m.group(1)}}} names no field of the run",
                                    file=file, run=run["id"], field="id",
                                    fix="use a dotted field path that the matrix sets, e.g. {prompting.n}")
        r["id"] = _PLACEHOLDER.sub(sub, run["id"])
        if isinstance(r.get("adapter_from"), str):  # a sweep of evaluations over a sweep of train runs
            r["adapter_from"] = _PLACEHOLDER.sub(sub, r["adapter_from"])
        out.append(r)
    if not _PLACEHOLDER.search(run["id"]) and len(out) > 1:
        raise ManifestError("a matrix run needs `{field}` placeholders in its id so every expanded run gets its own id",
                            file=file, run=run["id"], field="id",
                            fix="e.g. `id: icl-n{prompting.n}`")
    return out


def _schema_errors(doc: Any, file: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = list(validator.iter_errors(doc))
    if not errors:
        return
    # A failing allOf makes every run field "unevaluated"; prefer the specific, deepest error.
    specific = [e for e in errors if e.validator != "unevaluatedProperties"] or errors
    err = sorted(specific, key=lambda e: (-len(e.absolute_path), e.message))[0]
    path = list(err.absolute_path)
    run_id = None
    if len(path) >= 2 and path[0] == "runs" and isinstance(doc, dict):
        try:
            run_id = doc["runs"][path[1]].get("id") or f"#{path[1]}"
        except (IndexError, AttributeError, TypeError):
            run_id = f"#{path[1]}"
        path = path[2:]
    elif path and path[0] == "runs":
        path = path[1:]
    description = err.schema.get("description") if isinstance(err.schema, dict) else None
    expected = err.message
    if err.validator in ("additionalProperties", "unevaluatedProperties"):
        props = err.schema.get("properties") if isinstance(err.schema, dict) else None
        if props is None:  # a run: its fields are those of run_fields
            props = _schema()["$defs"]["run_fields"]["properties"]
        unexpected = sorted(k for k in (err.instance or {}) if k not in props)
        if unexpected:
            path = path + [unexpected[0]]
            expected = f"no field named '{unexpected[0]}'"
        fix = "remove or rename the field; allowed fields: " + ", ".join(sorted(props))
    elif err.validator == "enum":
        fix = "use one of: " + ", ".join(map(str, err.validator_value))
    else:
        fix = description or "correct the value to match the expected form"
    field_name = ".".join(str(p) for p in path) or "(top level)"
    more = f" ({len(errors) - 1} more problem(s) after this one)" if len(errors) > 1 else ""
    raise ManifestError(f"invalid manifest{more}", file=file, run=run_id, field=field_name,
                        expected=expected, fix=fix)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ManifestError(f"cannot read manifest: {e.strerror}", file=str(path),
                            fix="pass an existing manifest file or directory")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ManifestError(f"not valid YAML{where}: {getattr(e, 'problem', e)}", file=str(path),
                            fix="fix the YAML syntax (indentation, quotes, colons)")


# Largest model a run may fully fine-tune, unless the manifest's `limits` says otherwise (the
# first study ran full fine-tuning for its small models only).
DEFAULT_FULL_FT_MAX_PARAMETERS = 1e9


def _check_run(run: dict, file: str, limits: dict | None = None) -> None:
    rid = run["id"]

    def bad(field_name, msg, fix, expected=None):
        raise ManifestError(msg, file=file, run=rid, field=field_name, expected=expected, fix=fix)

    for required in ("model", "dataset"):
        if not run.get(required):
            bad(required, f"the run names no {required}", f"add `{required}:` to the run or to `defaults`")
    if run["model"] not in MODELS:
        bad("model", f"unknown model '{run['model']}'", "use a key of the model registry",
            expected=", ".join(sorted(MODELS)))
    if run["dataset"] not in DATASETS:
        bad("dataset", f"unknown dataset '{run['dataset']}'", "use a key of the dataset registry",
            expected=", ".join(sorted(DATASETS)))
    method = run["tuning"]["method"]
    p = run["prompting"]
    if p["strategy"] == "zero-shot" and p["n"] != 0:
        bad("prompting.n", "zero-shot prompting takes no examples", "set `n: 0` or use `strategy: icl`")
    if p["strategy"] in ("icl", "rag") and p["n"] < 1:
        bad("prompting.n", f"{p['strategy']} needs at least one example", "set `n:` to 1 or more")
    if run["kind"] == "train":
        if method == "none":
            bad("tuning.method", "a train run needs a tuning method",
                "set `tuning.method` (full-ft, lora, ia3, prompt-tuning, prefix-tuning, qlora-8bit, qlora-4bit)")
        if run.get("adapter_from"):
            bad("adapter_from", "a train run cannot use another run's adapter", "remove `adapter_from`")
    else:
        if method != "none" and not run.get("adapter_from"):
            bad("adapter_from", f"an evaluation with tuning method '{method}' must name the train run that made its weights",
                "add `adapter_from: <train run id>` (or set `tuning.method: none`)")
    full_ft_max = (limits or {}).get("full_ft_max_parameters", DEFAULT_FULL_FT_MAX_PARAMETERS)
    if method == "full-ft" and full_ft_max is not None and MODELS[run["model"]].parameters > full_ft_max:
        bad("tuning.method", "full fine-tuning is only run for the small models in the study",
            f"use a PEFT method for models above {full_ft_max:g} parameters, or raise the manifest's "
            "`limits.full_ft_max_parameters`")
    from repro.metrics import scorer_names

    for name in run["metrics"]:
        if name not in scorer_names():
            bad("metrics", f"unknown metric '{name}'", "use a scorer name of repro/metrics/ or of a task",
                expected=", ".join(scorer_names()))
    gen = run["generation"]
    if gen["strategy"] == "beam" and gen["num_return_sequences"] > gen["num_beams"]:
        bad("generation.num_return_sequences", "beam search cannot return more candidates than beams",
            "make num_return_sequences <= num_beams")


def _resolve(run: dict, file: str) -> dict:
    """Fill what the registry implies: learning rate, token limits, stops, quantization bits."""
    ds = DATASETS[run["dataset"]]
    gen = run["generation"]
    if gen["max_new_tokens"] is None:
        gen["max_new_tokens"] = ds.max_new_tokens
    if gen["stop"] is None:
        gen["stop"] = list(ds.stop)
    t = run["tuning"]
    if t["learning_rate"] is None and t["method"] in PAPER_LEARNING_RATES:
        t["learning_rate"] = t["learning_rates"].get(t["method"], PAPER_LEARNING_RATES[t["method"]])
    del t["learning_rates"]  # resolved into learning_rate: a run's identity holds only what it uses
    given = (run.pop("_given_quant", None) or {}).get("bits")
    if t["method"] in QUANT_BITS:
        want = QUANT_BITS[t["method"]]
        if given is not None and given != want:
            raise ManifestError(f"{t['method']} needs bits {want}", file=file, run=run["id"],
                                field="tuning.quantization.bits", fix=f"set bits: {want} or leave it out")
        t["quantization"]["bits"] = want
    return run


def _load_file(path: Path) -> tuple[dict, list[dict]]:
    doc = _read_yaml(path)
    file = str(path)
    if not isinstance(doc, dict):
        raise ManifestError("a manifest must be a mapping with `manifest_version`, `study` and `runs`",
                            file=file, fix="see manifests/smoke.yaml for the format")
    _schema_errors(doc, file)
    defaults = deep_merge(BUILTIN_DEFAULTS, doc.get("defaults") or {})
    runs = []
    for raw in doc["runs"]:
        given_quant = ((raw.get("tuning") or {}).get("quantization")
                       or ((doc.get("defaults") or {}).get("tuning") or {}).get("quantization") or {})
        merged = deep_merge(defaults, raw)
        merged["_given_quant"] = given_quant
        for r in _expand(merged, file):
            r["study"] = doc["study"]
            _check_run(r, file, doc.get("limits"))
            runs.append((_resolve(r, file), file))
    return doc, runs


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.yaml"))
        if not files:
            raise ManifestError("the directory holds no *.yaml manifest", file=str(path),
                                fix="pass a manifest file or a directory of them")
    elif path.exists():
        files = [path]
    else:
        raise ManifestError("no such manifest", file=str(path),
                            fix="pass an existing file, e.g. manifests/smoke.yaml")
    studies, claims, runs, desc, tables = set(), [], [], "", []
    seen: dict[str, str] = {}
    for f in files:
        doc, file_runs = _load_file(f)
        studies.add(doc["study"])
        desc = desc or doc.get("description", "")
        claims += [dict(c, source=str(f)) for c in doc.get("claims") or []]
        tables += doc.get("report_tables") or []
        for cfg, file in file_runs:
            rid = cfg["id"]
            if rid in seen:
                raise ManifestError(f"duplicate run id '{rid}' (also in {seen[rid]})", file=file, run=rid,
                                    field="id", fix="give every run (after matrix expansion) its own id")
            seen[rid] = file
            runs.append(Run(id=rid, config=cfg, source=file))
    if len(studies) > 1:
        raise ManifestError(f"one manifest directory must hold one study, found {sorted(studies)}",
                            file=str(path), field="study", fix="split the directory per study")
    by_id = {r.id: r for r in runs}
    for r in runs:
        src = r.config.get("adapter_from")
        if src and (src not in by_id or by_id[src].kind != "train"):
            raise ManifestError(f"adapter_from '{src}' is not a train run of this manifest", file=r.source,
                                run=r.id, field="adapter_from", fix="name the id of a run with `kind: train`")
        if src:
            a, b = by_id[src].config, r.config
            for k in ("model",):
                if a[k] != b[k]:
                    raise ManifestError(f"the evaluation's {k} '{b[k]}' differs from its train run's '{a[k]}'",
                                        file=r.source, run=r.id, field=k, fix=f"use {k}: {a[k]}")
            if a["tuning"]["method"] != b["tuning"]["method"]:
                raise ManifestError("the evaluation's tuning.method differs from its train run's",
                                    file=r.source, run=r.id, field="tuning.method",
                                    fix=f"use method: {a['tuning']['method']}")
    for c in claims:
        for i, chk in enumerate(c["checks"]):
            for side in ("greater", "less"):
                for rid in claim_side_runs(chk[side]):
                    if rid not in by_id:
                        raise ManifestError(f"claim '{c['id']}' names unknown run '{rid}'", file=c["source"],
                                            field=f"claims.{c['id']}.checks.{i}.{side}",
                                            fix="use run ids that exist in the manifest")
    return Manifest(path=str(path), study=studies.pop(), runs=runs, claims=claims, description=desc,
                    report_tables=tables)


def claim_side_runs(side) -> list[str]:
    if isinstance(side, dict) and "value" in side:  # a constant
        return []
    if isinstance(side, str):
        return [side]
    if isinstance(side, list):
        return side
    return side["runs"]

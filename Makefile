# peft-code-repro: the newcomer's commands are `make smoke` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PYTHONHASHSEED ?= 0

.PHONY: setup smoke smoke-checksums checksums test bench clean
setup: $(STAMP)

$(STAMP): requirements/cpu.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/cpu.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# The smoke run executes APPS programs and JUnit tests: it needs the sandbox (bubblewrap,
# Java); `sandbox-deps` installs them on Debian when missing (as root).
smoke: $(STAMP) sandbox-deps
	$(PY) -m repro reproduce --manifest manifests/smoke.yaml --out results/smoke --expect-checksums checksums/smoke.sha256

# Re-pin the smoke outputs (only when a change in outputs is intended; say so in the commit).
smoke-checksums: $(STAMP)
	$(PY) -m repro reproduce --manifest manifests/smoke.yaml --out results/smoke --update-checksums checksums/smoke.sha256

# Re-pin bundled data and tiny models.
checksums: $(STAMP)
	$(PY) tools/update_checksums.py

test: $(STAMP) sandbox-deps
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf results build *.egg-info

# Further targets (containers, locks, sandbox image) live in mk/*.mk.
-include mk/*.mk

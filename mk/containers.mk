# Containers, lock files and the evaluator's `make reproduce` (see docs/CONTAINERS.md).
#
#   make image                      build the GPU image (CUDA base pinned by digest)
#   make image-cpu                  build the CPU image from the local Debian base
#   make reproduce                  the paper manifest, in the GPU image or natively on a GPU
#   make reproduce MANIFEST=manifests/smoke.yaml ONLY='rq2/*' SHARD=1/4
#   make smoke-container            the smoke manifest inside the CPU image, network off
#   make lock                       regenerate requirements/{gpu,cpu,list}.lock

IMAGE          ?= peft-code-repro:gpu
IMAGE_CPU      ?= peft-code-repro:cpu
LOCAL_BASE     ?= peft-code-repro/debian-minbase:bookworm
MANIFEST       ?= manifests/paper
ONLY           ?=
SHARD          ?=
OUT            ?= results/$(basename $(notdir $(MANIFEST)))
ALLOW_CPU      ?=
HF_CACHE       ?= $(HOME)/.cache/huggingface
# Where the CPU build of torch comes from when locking and installing (PyTorch's CPU
# wheels are not on PyPI). Override with a local folder of wheels if you have one.
CPU_TORCH_LINKS ?= https://download.pytorch.org/whl/cpu/torch/
UV             ?= $(VENV)/bin/uv
DOCKER         ?= docker
GIT_COMMIT     := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
GIT_DIRTY      := $(shell test -z "$$(git status --porcelain 2>/dev/null)" && echo false || echo true)

REPRODUCE_ARGS = --manifest $(MANIFEST) --out $(OUT) $(if $(ONLY),--only '$(ONLY)') $(if $(SHARD),--shard $(SHARD))
BUILD_ARGS     = --build-arg GIT_COMMIT=$(GIT_COMMIT) --build-arg GIT_DIRTY=$(GIT_DIRTY)
LOCK_FLAGS     = --no-config --index-url https://pypi.org/simple --python-version 3.11 \
                 --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet \
                 --custom-compile-command 'make lock'

.PHONY: image image-cpu reproduce smoke-container lock wheelhouse-cpu

image:
	$(DOCKER) build $(BUILD_ARGS) -t $(IMAGE) .

# The CPU image's torch wheel is fetched on the host into build/wheelhouse first, so the
# build itself needs no access to PyTorch's wheel server.
image-cpu: wheelhouse-cpu
	@$(DOCKER) image inspect $(LOCAL_BASE) >/dev/null 2>&1 || bash docker/engine.sh base-image
	$(DOCKER) build --network host $(BUILD_ARGS) --build-arg BASE_IMAGE=$(LOCAL_BASE) \
	  --build-arg LOCK_FILE=requirements/cpu.lock -t $(IMAGE_CPU) .

wheelhouse-cpu: $(STAMP)
	mkdir -p build/wheelhouse
	$(PY) -m pip download -q --no-deps --require-hashes --only-binary :all: \
	  --find-links $(CPU_TORCH_LINKS) -d build/wheelhouse -r requirements/cpu.lock

# Docker + a GPU: run in the image. Otherwise say what is missing, and run natively only
# when torch sees a GPU (or ALLOW_CPU=1, meant for manifests/smoke.yaml).
reproduce:
	@have_docker=no; have_gpu=no; \
	if $(DOCKER) info >/dev/null 2>&1; then have_docker=yes; fi; \
	if nvidia-smi -L >/dev/null 2>&1; then have_gpu=yes; fi; \
	if [ $$have_docker = yes ] && [ $$have_gpu = yes ]; then \
	  $(DOCKER) image inspect $(IMAGE) >/dev/null 2>&1 || $(MAKE) image || exit $$?; \
	  mkdir -p $(OUT) $(HF_CACHE); \
	  digest=$$($(DOCKER) image inspect --format '{{.Id}}' $(IMAGE)); \
	  echo "reproduce: running in $(IMAGE) ($$digest) with --gpus all"; \
	  exec $(DOCKER) run --rm --gpus all --user $$(id -u):$$(id -g) \
	    -e REPRO_IMAGE_DIGEST=$$digest -e REPRO_IMAGE_REF=$(IMAGE) \
	    -v $(CURDIR)/$(OUT):/opt/peft-code-repro/$(OUT) -v $(HF_CACHE):/cache/huggingface \
	    $(IMAGE) reproduce $(REPRODUCE_ARGS); \
	fi; \
	[ $$have_docker = yes ] || echo "reproduce: no Docker engine answers ('$(DOCKER) info' failed)"; \
	[ $$have_gpu = yes ] || echo "reproduce: no NVIDIA GPU on this machine ('nvidia-smi -L' failed)"; \
	echo "reproduce: trying natively with $(PY)"; \
	cuda=$$($(PY) -c 'import torch; print(torch.cuda.is_available())' 2>/dev/null || echo error); \
	if [ "$$cuda" = True ] || [ "$(ALLOW_CPU)" = 1 ]; then \
	  exec $(PY) -m repro reproduce $(REPRODUCE_ARGS); \
	fi; \
	if [ "$$cuda" = error ]; then echo "reproduce: torch does not import in $(PY) (make setup makes it)"; \
	else echo "reproduce: torch in $(PY) sees no GPU (torch.cuda.is_available() = $$cuda); not starting."; fi; \
	echo "  The paper's runs need one 24 GB NVIDIA GPU (see ARTIFACT.md). Either:"; \
	echo "  - on a machine with a GPU, Docker and the NVIDIA container toolkit: make reproduce"; \
	echo "  - on a GPU machine without Docker: a virtualenv with the CUDA stack, then run with it:"; \
	echo "      python3.11 -m venv .venv-gpu"; \
	echo "      .venv-gpu/bin/pip install --require-hashes --no-deps -r requirements/gpu.lock"; \
	echo "      .venv-gpu/bin/pip install --no-deps --no-build-isolation --no-index -e ."; \
	echo "      make reproduce VENV=.venv-gpu"; \
	echo "  - on this CPU: make smoke, or make reproduce MANIFEST=manifests/smoke.yaml ALLOW_CPU=1"; \
	exit 1

smoke-container: image-cpu
	mkdir -p results/smoke-container
	digest=$$($(DOCKER) image inspect --format '{{.Id}}' $(IMAGE_CPU)); \
	$(DOCKER) run --rm --network none --user $$(id -u):$$(id -g) \
	  -e REPRO_IMAGE_DIGEST=$$digest -e REPRO_IMAGE_REF=$(IMAGE_CPU) \
	  -e HF_HUB_OFFLINE=1 -e HF_DATASETS_OFFLINE=1 -e TRANSFORMERS_OFFLINE=1 \
	  -v $(CURDIR)/results/smoke-container:/opt/peft-code-repro/results/smoke \
	  $(IMAGE_CPU) reproduce --manifest manifests/smoke.yaml --out results/smoke \
	  --expect-checksums checksums/smoke.sha256

# Lock files: gpu.lock takes PyPI's torch (the CUDA 13.0 build on linux x86_64),
# cpu.lock the CPU build (requirements/cpu-override.in), list.lock only what
# `repro list` imports (the small image the container test builds).
lock:
	@test -x $(UV) || { echo "lock: $(UV) missing; run: $(PY) -m pip install -r requirements/tools.txt"; exit 2; }
	cd requirements && $(abspath $(UV)) pip compile cpu.txt $(LOCK_FLAGS) -o gpu.lock
	cd requirements && $(abspath $(UV)) pip compile cpu.txt $(LOCK_FLAGS) \
	  --find-links $(CPU_TORCH_LINKS) --override cpu-override.in -o cpu.lock
	cd requirements && $(abspath $(UV)) pip compile list.in $(LOCK_FLAGS) -o list.lock

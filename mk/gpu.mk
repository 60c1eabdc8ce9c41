# The GPU check (docs/performance/gpu.md, docs/MEASURE.md) and the measurement on this machine.
#
#   make gpu-check                           on a GPU machine, with the project's venv
#   make gpu-check PYTHON=python3 NO_VENV=1  with that Python and its preinstalled packages:
#                                            no venv is created and nothing is installed
#   make measure                             peak memory and s/step here -> calibration/<device>.json
#
# Without a GPU, gpu-check says so, runs nothing and exits 0.

.PHONY: gpu-check measure

NO_VENV ?=
ifeq ($(NO_VENV),1)
GPU_CHECK_PY   := $(PYTHON)
GPU_CHECK_DEPS :=
else
GPU_CHECK_PY   := $(PY)
GPU_CHECK_DEPS := $(STAMP)
endif

gpu-check: $(GPU_CHECK_DEPS)
	PYTHONPATH=$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_CHECK_PY) tools/gpu_check.py

measure: $(STAMP)
	nice -n 10 $(PY) -m repro measure $(MEASURE_ARGS)

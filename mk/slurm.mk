# A single-node SLURM cluster on this machine and the real-cluster test (docs/SCALING.md).
#   make slurm-up      install Debian's slurm + munge if missing, start the daemons (private
#                      config in build/slurm; /etc/slurm untouched); then export SLURM_CONF=build/slurm/slurm.conf
#   make slurm-down    stop exactly the daemons slurm-up started (by their pid files)
#   make test-slurm    the smoke run as a 4-task job array: cancel one task, resume, compare
#                      byte for byte with checksums/smoke.sha256 (needs `make smoke`'s results)
.PHONY: slurm-up slurm-down test-slurm
SLURM_CONF_FILE := $(abspath $(or $(REPRO_SLURM_DIR),build/slurm))/slurm.conf

slurm-up:
	bash .ci/slurm-up.sh

slurm-down:
	bash .ci/slurm-down.sh

test-slurm: $(STAMP) sandbox-deps slurm-up smoke
	SLURM_CONF=$(SLURM_CONF_FILE) REPRO_SLURM_TESTS=1 $(PY) -m pytest -q tests/test_slurm_cluster.py

# The paper manifest, its plan and reports (see docs/TOLERANCES.md, docs/SCALING.md).
.PHONY: paper-manifests paper-manifests-check plan-paper report-paper lock-inputs

paper-manifests: $(STAMP)
	$(PY) tools/make_paper_manifests.py

paper-manifests-check: $(STAMP)
	$(PY) tools/make_paper_manifests.py --check

plan-paper: $(STAMP)
	$(PY) -m repro plan --manifest manifests/paper --quiet --show-fit

report-paper: $(STAMP)
	$(PY) -m repro report --manifest manifests/paper --results results/paper

# Needs the Hugging Face hub: run without HF_HUB_OFFLINE on a networked machine.
lock-inputs: $(STAMP)
	HF_HUB_OFFLINE=0 $(PY) -m repro lock --apps-subset
